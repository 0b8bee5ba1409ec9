/* The table of CRM providers (issue 20 item 2): CALLBUS_CRM picks a row by
 * name, each CRM owns its settings and their check, and the listing and
 * the enum's choices show every row. The messages checked are the ones
 * ticket-service gave before the table (docs/configuration.md). */
#include "test.h"
#include "cmn_log.h"
#include "crm_provider.h"

#include <event2/event.h>

/* Every CRM variable the cases set, unset again after each. */
static const char *const crm_vars[] = {"CALLBUS_ZENDESK_URL",
                                       "CALLBUS_ZENDESK_EMAIL",
                                       "CALLBUS_ZENDESK_TOKEN",
                                       "CALLBUS_DYNAMICS_URL",
                                       "CALLBUS_DYNAMICS_TENANT_ID",
                                       "CALLBUS_DYNAMICS_CLIENT_ID",
                                       "CALLBUS_DYNAMICS_CLIENT_SECRET",
                                       "CALLBUS_DYNAMICS_WITHHELD_CONTACT"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof crm_vars / sizeof crm_vars[0]; i++)
        unsetenv(crm_vars[i]);
}

static crm_shared_cfg_t shared_for(const char *name)
{
    return (crm_shared_cfg_t){.name = name,
                              .lookup_form = CMN_PHONE_LOOKUP_DIGITS,
                              .country = NULL,
                              .time_scale = 1,
                              .timeout_ms = 1000,
                              .interactive_ttl_ms = 1500,
                              .interactive_max_queued = 64};
}

/* Starts the named CRM from the environment; *errs gets what it reported
 * (caller frees). Returns the adapter (freed here) as 1, or 0. */
static int start(const char *name, const crm_shared_cfg_t *shared, char **errs, char *errstr,
                 size_t errsz)
{
    size_t len = 0;
    cmn_log_init("test", CMN_LOG_ERROR); /* the settings' log lines: not this test's */
    FILE *f = open_memstream(errs, &len);
    struct event_base *base = event_base_new();
    if (!f || !base) {
        if (f)
            fclose(f);
        if (base)
            event_base_free(base);
        return -1;
    }
    tkt_crm_t *crm = crm_provider_start(crm_provider_find(name), base, shared, f, errstr, errsz);
    fclose(f);
    if (crm)
        crm->ops->free(crm);
    event_base_free(base);
    return crm != NULL;
}

static void test_find_by_name(void)
{
    ASSERT_EQ_STR(crm_provider_find("zendesk")->name, "zendesk");
    ASSERT_EQ_STR(crm_provider_find("dynamics")->name, "dynamics");
    ASSERT_TRUE(crm_provider_find("salesforce") == NULL);
    ASSERT_TRUE(crm_provider_find("") == NULL);
    ASSERT_TRUE(crm_provider_find(NULL) == NULL);
    ASSERT_TRUE(crm_provider_at(crm_provider_count()) == NULL);
}

/* CALLBUS_CRM's choices (an enum checked at load, whose error lists the
 * known names) are exactly the table's names, in its order. */
static void test_enum_choices_are_the_table(void)
{
    char names[256] = "";
    for (size_t i = 0; i < crm_provider_count(); i++) {
        if (i)
            strcat(names, "|");
        strcat(names, crm_provider_at(i)->name);
    }
    ASSERT_TRUE(crm_provider_count() >= 2);
    ASSERT_EQ_STR(names, CRM_PROVIDER_NAMES);
}

/* Each provider's settings are its own: CALLBUS_ names, fields inside its
 * block, one owner per name, a help line for docs/configuration.md. */
static void test_settings_well_formed(void)
{
    for (size_t i = 0; i < crm_provider_count(); i++) {
        const crm_provider_t *p = crm_provider_at(i);
        ASSERT_TRUE(p->n_settings > 0 && p->check && p->create && p->ticket_write_limit > 0);
        for (size_t k = 0; k < p->n_settings; k++) {
            const cmn_cfg_spec_t *e = &p->settings[k];
            ASSERT_TRUE(strncmp(e->name, "CALLBUS_", 8) == 0);
            ASSERT_TRUE(e->help && *e->help && e->def);
            ASSERT_TRUE(e->offset + sizeof(char *) <= p->settings_size);
            for (size_t j = 0; j < crm_provider_count(); j++)
                for (size_t m = 0; m < crm_provider_at(j)->n_settings; m++)
                    ASSERT_TRUE((j == i && m == k) ||
                                strcmp(crm_provider_at(j)->settings[m].name, e->name) != 0);
        }
    }
}

/* --config-markdown lists every CRM's settings, whichever CALLBUS_CRM is. */
static void test_markdown_lists_every_crm(void)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    ASSERT_TRUE(f != NULL);
    crm_provider_print_markdown(f);
    fclose(f);
    int rows = 0;
    for (const char *p = out; (p = strstr(p, "\n| `CALLBUS_")) != NULL; p++)
        rows++;
    rows += strncmp(out, "| `CALLBUS_", 11) == 0;
    size_t expected = 0;
    for (size_t i = 0; i < crm_provider_count(); i++)
        expected += crm_provider_at(i)->n_settings;
    int zd = strstr(out, "| `CALLBUS_ZENDESK_TOKEN` | (empty) |") != NULL;
    int dyn =
        strstr(out, "| `CALLBUS_DYNAMICS_AUTHORITY` | https://login.microsoftonline.com |") != NULL;
    free(out);
    ASSERT_EQ_INT(rows, expected);
    ASSERT_TRUE(zd && dyn);
}

static void test_zendesk_needs_its_credentials(void)
{
    char *errs = NULL, errstr[256] = "";
    crm_shared_cfg_t sh = shared_for("zendesk");
    clear_env();
    setenv("CALLBUS_ZENDESK_EMAIL", "agent@example.com", 1);
    int started = start("zendesk", &sh, &errs, errstr, sizeof errstr);
    int url =
        strstr(errs, "CALLBUS_ZENDESK_URL: required with CALLBUS_CRM=zendesk, not set\n") != 0;
    int email = strstr(errs, "CALLBUS_ZENDESK_EMAIL") != NULL;
    int token = strstr(errs, "CALLBUS_ZENDESK_TOKEN: required with CALLBUS_CRM=zendesk") != NULL;
    free(errs);
    clear_env();
    ASSERT_EQ_INT(started, 0);
    ASSERT_TRUE(url && token && !email);
    ASSERT_EQ_STR(errstr, "the CRM's settings (above)");
}

static void test_zendesk_starts_from_its_settings(void)
{
    char *errs = NULL, errstr[256] = "";
    crm_shared_cfg_t sh = shared_for("zendesk");
    clear_env();
    setenv("CALLBUS_ZENDESK_URL", "https://acme.zendesk.com", 1);
    setenv("CALLBUS_ZENDESK_EMAIL", "agent@example.com", 1);
    setenv("CALLBUS_ZENDESK_TOKEN", "secret", 1);
    int started = start("zendesk", &sh, &errs, errstr, sizeof errstr);
    free(errs);
    /* the constructor's own refusal comes through (crm_curl_url_check) */
    setenv("CALLBUS_ZENDESK_URL", "http://acme.zendesk.com", 1);
    int plain = start("zendesk", &sh, &errs, errstr, sizeof errstr);
    free(errs);
    clear_env();
    ASSERT_EQ_INT(started, 1);
    ASSERT_EQ_INT(plain, 0);
    ASSERT_TRUE(strstr(errstr, "zendesk: base_url") != NULL);
}

/* Dynamics: its four credentials, no CRM display; a field map is taken
 * (R-T9, R-T8, R-T12: incident columns, issue 23 item 1); a missing
 * withheld-number contact is only a warning. */
static void test_dynamics_check(void)
{
    char *errs = NULL, errstr[256] = "";
    crm_shared_cfg_t sh = shared_for("dynamics");
    sh.display = 1;
    sh.field_map = 1;
    clear_env();
    int started = start("dynamics", &sh, &errs, errstr, sizeof errstr);
    int lines = 0;
    for (const char *p = errs; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    int secret = strstr(errs, "CALLBUS_DYNAMICS_CLIENT_SECRET: required with "
                              "CALLBUS_CRM=dynamics, not set") != NULL;
    int display = strstr(errs, "CALLBUS_TICKET_CRM_DISPLAY: Dynamics 365 has no API") != NULL;
    int fields = strstr(errs, "CALLBUS_TICKET_FIELDS: no custom field mapping") != NULL;
    int warning = strstr(errs, "(warning only)") != NULL;
    free(errs);
    ASSERT_EQ_INT(started, 0);
    ASSERT_EQ_INT(lines, 6); /* 4 required + display + the warning */
    ASSERT_TRUE(secret && display && !fields && warning);

    setenv("CALLBUS_DYNAMICS_URL", "https://org.crm.dynamics.com", 1);
    setenv("CALLBUS_DYNAMICS_TENANT_ID", "contoso.onmicrosoft.com", 1);
    setenv("CALLBUS_DYNAMICS_CLIENT_ID", "app", 1);
    setenv("CALLBUS_DYNAMICS_CLIENT_SECRET", "secret", 1);
    setenv("CALLBUS_DYNAMICS_WITHHELD_CONTACT", "00000000-0000-0000-0000-000000000001", 1);
    sh = shared_for("dynamics");
    sh.field_map = 1;
    started = start("dynamics", &sh, &errs, errstr, sizeof errstr);
    int quiet = errs && !*errs;
    free(errs);
    clear_env();
    ASSERT_EQ_INT(started, 1);
    ASSERT_TRUE(quiet);
}

TEST_MAIN("crm_provider", TEST_CASE(test_find_by_name), TEST_CASE(test_enum_choices_are_the_table),
          TEST_CASE(test_settings_well_formed), TEST_CASE(test_markdown_lists_every_crm),
          TEST_CASE(test_zendesk_needs_its_credentials),
          TEST_CASE(test_zendesk_starts_from_its_settings), TEST_CASE(test_dynamics_check))
