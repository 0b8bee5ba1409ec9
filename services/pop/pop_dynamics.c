/* The Dynamics 365 widget's pages (pop_dynamics.h). */
#include "pop_dynamics.h"

#include "pop_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE "/apps/dynamics/page.html" /* the template (www/dynamics.html) */
#define SIGNED_IN "/apps/dynamics/signed-in.html"

struct pop_dynamics {
    char org[512];
    char csp[2048], csp_signed_in[256];
};

static int configure(pop_dynamics_t *d, const pop_config_t *c, char *err, size_t errsz)
{
    char issuer[512];
    /* The org's URL is where the CIF library comes from and the only page
     * that may frame the widget: an origin, nothing more. */
    if (pop_page_origin(c->dynamics_org_url, d->org, sizeof d->org) < 0 ||
        strcmp(d->org, c->dynamics_org_url) != 0) {
        snprintf(err, errsz,
                 "CALLBUS_POP_DYNAMICS_ORG_URL must be the org's https://host "
                 "(https://<org>.crm.dynamics.com)");
        return -1;
    }
    if (!*c->oidc_issuer || pop_page_origin(c->oidc_issuer, issuer, sizeof issuer) < 0) {
        snprintf(err, errsz,
                 "CALLBUS_POP_DYNAMICS_ORG_URL needs CALLBUS_POP_OIDC_ISSUER (Entra ID): the "
                 "widget signs agents in with OpenID Connect only");
        return -1;
    }
    /* connect-src: pop-service, and the issuer's token endpoint (code
     * exchange, refresh); Entra ID's and the usual providers' endpoints
     * share the issuer's origin, as for the agent page. */
    size_t n = (size_t)snprintf(d->csp, sizeof d->csp,
                                "default-src 'none'; script-src 'self' %s; connect-src 'self' %s; "
                                "style-src 'self'; img-src 'self'; frame-ancestors %s; "
                                "base-uri 'none'; form-action 'none'",
                                d->org, issuer, d->org);
    if (n >= sizeof d->csp) {
        snprintf(err, errsz, "CALLBUS_POP_DYNAMICS_ORG_URL or the issuer too long");
        return -1;
    }
    /* The popup's landing page runs nothing and is framed by nobody. */
    snprintf(d->csp_signed_in, sizeof d->csp_signed_in,
             "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
             "form-action 'none'");
    return 0;
}

static void on_widget(struct evhttp_request *req, const char *path, void *arg)
{
    pop_dynamics_t *d = arg;
    if (strcmp(path, "/apps/dynamics/") == 0) {
        const pop_page_slot_t slots[] = {{"{{org}}", d->org}};
        pop_page_send(req, d->csp, PAGE, slots, 1);
    } else if (strcmp(path, "/apps/dynamics/signed-in") == 0)
        pop_page_send(req, d->csp_signed_in, SIGNED_IN, NULL, 0);
    else
        cmn_http_reply_error(req, 404, "no such page", NULL);
}

int pop_dynamics_new(cmn_http_t *http, const pop_config_t *cfg, pop_dynamics_t **out, char *err,
                     size_t errsz)
{
    *out = NULL;
    *err = '\0';
    if (!*cfg->dynamics_org_url)
        return 0;
    pop_dynamics_t *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (configure(d, cfg, err, errsz) < 0 ||
        cmn_http_route(http, "dynamics_widget", "/apps/dynamics/", CMN_HTTP_GET, on_widget, d) <
            0) {
        if (!*err)
            snprintf(err, errsz, "out of memory");
        free(d);
        return -1;
    }
    *out = d;
    return 0;
}

void pop_dynamics_free(pop_dynamics_t *d)
{
    free(d);
}
