/* The Dynamics emulator's control API (/__emulator/...) from a C test, as
 * blocking libcurl calls: shared by the tests that run against it. The
 * test sets dyn_ctl_url (its DYN_EMULATOR_URL) first. Answers of up to
 * 256 KB; the JSON returned is a new reference. */
#ifndef DYN_EMU_CTL_H
#define DYN_EMU_CTL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *dyn_ctl_url;

static size_t dyn_ctl_sink(char *p, size_t s, size_t n, void *u)
{
    size_t *len = u;
    char *buf = (char *)(len + 1);
    size_t k = s * n;
    if (*len + k < 262144 - sizeof(size_t) - 1) {
        memcpy(buf + *len, p, k);
        *len += k;
        buf[*len] = '\0';
    }
    return k;
}

/* POST (json != NULL) or GET an /__emulator/ path; parsed JSON or NULL. */
static json_t *ctl(const char *path, const char *json)
{
    static char store[262144];
    size_t *len = (size_t *)store;
    *len = 0;
    char url[512];
    snprintf(url, sizeof url, "%s/__emulator/%s", dyn_ctl_url, path);
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (json)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, dyn_ctl_sink);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, store);
    CURLcode rc = curl_easy_perform(e);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rc == CURLE_OK ? json_loads(store + sizeof(size_t), 0, NULL) : NULL;
}

static void ctl_ok(const char *path, const char *json)
{
    json_decref(ctl(path, json));
}

#endif
