/* cmn_phone: E.164 normalisation with a default country (R-I1) and the form a
 * CRM searches by (R-I2), on libphonenumber (issue 9). The number table is
 * phone_table.h. */
#include "cmn_phone.h"
#include "phone_table.h"
#include "test.h"

static const cmn_country_t *IT, *TR, *US, *GB;

static void lookup_countries(void)
{
    IT = cmn_phone_country("IT");
    TR = cmn_phone_country("TR");
    US = cmn_phone_country("US");
    GB = cmn_phone_country("GB");
}

/* Returns the rc and leaves the number in a static buffer for ASSERTs. */
static char got[64];
static cmn_phone_rc_t e164(const char *raw, const cmn_country_t *c)
{
    got[0] = '\0';
    return cmn_phone_e164(raw, c, got, sizeof got);
}

#define ASSERT_E164(raw, country, want)                                                            \
    do {                                                                                           \
        ASSERT_EQ_INT(e164(raw, country), CMN_PHONE_OK);                                           \
        ASSERT_EQ_STR(got, want);                                                                  \
    } while (0)

static void test_country_lookup(void)
{
    lookup_countries();
    ASSERT_TRUE(IT && TR && US && GB);
    ASSERT_EQ_STR(IT->code, "39");
    ASSERT_EQ_STR(cmn_phone_country("7")->iso, "RU"); /* a shared code: its main country */
    ASSERT_EQ_STR(cmn_phone_country("+1")->iso, "US");
    ASSERT_EQ_STR(cmn_phone_country("kz")->code, "7");
    ASSERT_TRUE(cmn_phone_country("it") == IT);
    ASSERT_TRUE(cmn_phone_country("+39") == IT);
    ASSERT_TRUE(cmn_phone_country("90") == TR);
    ASSERT_TRUE(cmn_phone_country("XX") == NULL);
    ASSERT_TRUE(cmn_phone_country("") == NULL);
    ASSERT_TRUE(cmn_phone_country(NULL) == NULL);
}

/* R-I1: Italian numbers keep their leading 0 in E.164 (no trunk prefix). */
static void test_italy_keeps_leading_zero(void)
{
    lookup_countries();
    ASSERT_E164("06 1234 5678", IT, "+390612345678");
    ASSERT_E164("06-1234-5678", IT, "+390612345678");
    ASSERT_E164("0039 06 1234 5678", IT, "+390612345678");
    ASSERT_E164("+39 06 1234 5678", IT, "+390612345678");
    ASSERT_E164("347 123 4567", IT, "+393471234567"); /* mobile: no 0 at all */
}

/* R-I1: Turkish national numbers drop the trunk 0. */
static void test_turkey_drops_trunk_zero(void)
{
    lookup_countries();
    ASSERT_E164("0532 123 45 67", TR, "+905321234567");
    ASSERT_E164("532 123 45 67", TR, "+905321234567");
    ASSERT_E164("+90 (532) 123 45 67", TR, "+905321234567");
    ASSERT_E164("020 7946 0018", GB, "+442079460018");
}

static void test_international_prefix_00(void)
{
    lookup_countries();
    ASSERT_E164("0034 91 123 45 67", IT, "+34911234567");
    ASSERT_E164("0034 91 123 45 67", TR, "+34911234567"); /* 00 wins over the trunk 0 */
    ASSERT_E164("0034911234567", NULL, "+34911234567");
    ASSERT_E164("+34 911 23 45 67", NULL, "+34911234567");
}

static void test_north_america(void)
{
    lookup_countries();
    ASSERT_E164("(212) 736-5000", US, "+12127365000");
    ASSERT_E164("1 212 736 5000", US, "+12127365000");
    ASSERT_E164("+1 212 736 5000", IT, "+12127365000");
}

static void test_withheld(void)
{
    static const char *const words[] = {"anonymous", "Anonymous", "PRIVATE",     "restricted",
                                        "unknown",   "withheld",  "unavailable", "blocked",
                                        "",          "   ",       " anonymous"};
    lookup_countries();
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        ASSERT_EQ_INT(e164(words[i], IT), CMN_PHONE_WITHHELD);
    ASSERT_EQ_INT(e164(NULL, IT), CMN_PHONE_WITHHELD);
}

static void test_invalid(void)
{
    lookup_countries();
    ASSERT_EQ_INT(e164("06 12AB 5678", IT), CMN_PHONE_INVALID);   /* letters */
    ASSERT_EQ_INT(e164("0800-CALLBUS", IT), CMN_PHONE_INVALID);   /* vanity letters */
    ASSERT_EQ_INT(e164("*31#0612345678", IT), CMN_PHONE_INVALID); /* dial codes */
    ASSERT_EQ_INT(e164("++390612345678", IT), CMN_PHONE_INVALID);
    ASSERT_EQ_INT(e164("39+0612345678", IT), CMN_PHONE_INVALID);
    ASSERT_EQ_INT(e164("123", IT), CMN_PHONE_INVALID); /* no reading is possible */
    ASSERT_EQ_INT(e164("+123456", NULL), CMN_PHONE_INVALID);
    ASSERT_EQ_INT(e164("+1234567890123456", NULL), CMN_PHONE_INVALID); /* 16 digits */
    ASSERT_EQ_INT(e164("0039 0612345678901234", IT), CMN_PHONE_INVALID);
    ASSERT_EQ_INT(e164("+0612345678", NULL), CMN_PHONE_INVALID); /* country code cannot be 0 */
    ASSERT_EQ_INT(e164("00", IT), CMN_PHONE_INVALID);
    ASSERT_EQ_INT(e164("-- ()", IT), CMN_PHONE_INVALID);        /* separators only */
    ASSERT_EQ_INT(e164("0612345678", NULL), CMN_PHONE_INVALID); /* national, no country */
    /* issue 9: the old code took any 7 to 15 digits; these are not possible */
    ASSERT_EQ_INT(e164("+1234567", NULL), CMN_PHONE_INVALID);
    ASSERT_EQ_INT(e164("+123456789012345", NULL), CMN_PHONE_INVALID);
}

static void test_small_output_buffer(void)
{
    char out[8];
    lookup_countries();
    ASSERT_EQ_INT(cmn_phone_e164("06 1234 5678", IT, out, sizeof out), CMN_PHONE_INVALID);
}

static void test_lookup_parse(void)
{
    cmn_phone_lookup_t form;
    ASSERT_EQ_INT(cmn_phone_lookup_parse("e164", &form), 0);
    ASSERT_EQ_INT(form, CMN_PHONE_LOOKUP_E164);
    ASSERT_EQ_INT(cmn_phone_lookup_parse("DIGITS", &form), 0);
    ASSERT_EQ_INT(form, CMN_PHONE_LOOKUP_DIGITS);
    ASSERT_EQ_INT(cmn_phone_lookup_parse("national", &form), 0);
    ASSERT_EQ_INT(form, CMN_PHONE_LOOKUP_NATIONAL);
    ASSERT_EQ_INT(cmn_phone_lookup_parse("local", &form), -1);
}

static char form_out[32];
static int form(const char *e164_number, cmn_phone_lookup_t f, const cmn_country_t *c)
{
    form_out[0] = '\0';
    return cmn_phone_lookup_form(e164_number, f, c, form_out, sizeof form_out);
}

/* R-I2: the CRM's look-up form (Dynamics strips '+' and country code). */
static void test_lookup_forms(void)
{
    lookup_countries();
    ASSERT_EQ_INT(form("+390612345678", CMN_PHONE_LOOKUP_E164, IT), 0);
    ASSERT_EQ_STR(form_out, "+390612345678");
    ASSERT_EQ_INT(form("+390612345678", CMN_PHONE_LOOKUP_DIGITS, IT), 0);
    ASSERT_EQ_STR(form_out, "390612345678");
    ASSERT_EQ_INT(form("+390612345678", CMN_PHONE_LOOKUP_NATIONAL, IT), 0);
    ASSERT_EQ_STR(form_out, "0612345678"); /* Italy: the 0 was never dropped */
    ASSERT_EQ_INT(form("+905321234567", CMN_PHONE_LOOKUP_NATIONAL, TR), 0);
    ASSERT_EQ_STR(form_out, "05321234567"); /* Turkey: the trunk 0 comes back */
    ASSERT_EQ_INT(form("+12127365000", CMN_PHONE_LOOKUP_NATIONAL, US), 0);
    ASSERT_EQ_STR(form_out, "2127365000");
    /* a foreign number cannot be written nationally: digits form */
    ASSERT_EQ_INT(form("+34911234567", CMN_PHONE_LOOKUP_NATIONAL, IT), 0);
    ASSERT_EQ_STR(form_out, "34911234567");
    ASSERT_EQ_INT(form("+34911234567", CMN_PHONE_LOOKUP_NATIONAL, NULL), 0);
    ASSERT_EQ_STR(form_out, "34911234567");
}

static void test_lookup_form_round_trip(void)
{
    /* national form + its country normalises back to the same E.164 (R-I1/R-I2) */
    static const struct {
        const char *e164, *iso;
    } cases[] = {{"+390612345678", "IT"},
                 {"+905321234567", "TR"},
                 {"+442079460018", "GB"},
                 {"+12127365000", "US"},
                 {"+34911234567", "ES"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cmn_country_t *c = cmn_phone_country(cases[i].iso);
        ASSERT_EQ_INT(form(cases[i].e164, CMN_PHONE_LOOKUP_NATIONAL, c), 0);
        ASSERT_EQ_INT(e164(form_out, c), CMN_PHONE_OK);
        ASSERT_EQ_STR(got, cases[i].e164);
    }
}

static void test_lookup_form_rejects_non_e164(void)
{
    char tiny[6];
    lookup_countries();
    ASSERT_EQ_INT(form("0612345678", CMN_PHONE_LOOKUP_DIGITS, IT), -1);
    ASSERT_EQ_INT(form("+39", CMN_PHONE_LOOKUP_DIGITS, IT), -1);
    ASSERT_EQ_INT(form(NULL, CMN_PHONE_LOOKUP_DIGITS, IT), -1);
    ASSERT_EQ_INT(
        cmn_phone_lookup_form("+390612345678", CMN_PHONE_LOOKUP_E164, IT, tiny, sizeof tiny), -1);
    ASSERT_TRUE(form("+39abcdefg", CMN_PHONE_LOOKUP_DIGITS, IT) == -1);
    ASSERT_TRUE(form("+39061234567890123", CMN_PHONE_LOOKUP_DIGITS, IT) == -1);
    ASSERT_TRUE(form("+1234567", CMN_PHONE_LOOKUP_DIGITS, IT) == -1); /* not possible */
}

static const char *const rc_names[] = {"ok", "withheld", "internal", "invalid"};

static int table_rc(cmn_phone_rc_t rc)
{
    return rc == CMN_PHONE_OK         ? PT_OK
           : rc == CMN_PHONE_WITHHELD ? PT_WITHHELD
           : rc == CMN_PHONE_INTERNAL ? PT_INTERNAL
                                      : PT_INVALID;
}

/* Issue 9 item 5: every row of the table, reporting each wrong row (not
 * only the first) so that a libphonenumber upgrade shows all it changed. */
static void test_table(void)
{
    int wrong = 0;
    ASSERT_TRUE(PHONE_TABLE_N >= 60);
    for (size_t i = 0; i < PHONE_TABLE_N; i++) {
        const phone_row_t *r = &phone_table[i];
        cmn_phone_opts_t o = {cmn_phone_country(r->country), r->format, 5};
        char out[CMN_PHONE_MAX] = "";
        int rc = table_rc(cmn_phone_normalise(r->raw, &o, out, sizeof out));
        if (rc != r->want || (rc == PT_OK && strcmp(out, r->e164) != 0)) {
            fprintf(stderr, "  row %zu \"%s\" (%s, format %d): got %s %s, want %s %s\n", i, r->raw,
                    r->country, (int)r->format, rc_names[rc], out, rc_names[r->want],
                    r->e164 ? r->e164 : "");
            wrong++;
        }
    }
    ASSERT_EQ_INT(wrong, 0);
}

/* R-I2 on the table: every accepted number's look-up forms, and the national
 * form read back with its country gives the same E.164. */
static void test_table_lookup_forms(void)
{
    int wrong = 0;
    for (size_t i = 0; i < PHONE_TABLE_N; i++) {
        const phone_row_t *r = &phone_table[i];
        const cmn_country_t *c = cmn_phone_country(r->country);
        char digits[CMN_PHONE_MAX], national[CMN_PHONE_MAX], back[CMN_PHONE_MAX] = "";
        cmn_phone_opts_t as_national = {c, CMN_PHONE_FORMAT_NATIONAL, 0};
        if (r->want != PT_OK)
            continue;
        if (form(r->e164, CMN_PHONE_LOOKUP_E164, c) < 0 || strcmp(form_out, r->e164) != 0 ||
            cmn_phone_lookup_form(r->e164, CMN_PHONE_LOOKUP_DIGITS, c, digits, sizeof digits) < 0 ||
            strcmp(digits, r->e164 + 1) != 0 ||
            cmn_phone_lookup_form(r->e164, CMN_PHONE_LOOKUP_NATIONAL, c, national,
                                  sizeof national) < 0 ||
            (strcmp(national, digits) != 0 &&
             (cmn_phone_normalise(national, &as_national, back, sizeof back) != CMN_PHONE_OK ||
              strcmp(back, r->e164) != 0))) {
            fprintf(stderr, "  row %zu %s (%s): national \"%s\" reads back as \"%s\"\n", i, r->e164,
                    r->country, national, back);
            wrong++;
        }
    }
    ASSERT_EQ_INT(wrong, 0);
}

/* R-I2 national forms the countries' own formats need (trunk prefix kept). */
static void test_national_forms(void)
{
    static const struct {
        const char *e164, *iso, *national;
    } cases[] = {
        {"+390612345678", "IT", "0612345678"},   {"+393471234567", "IT", "3471234567"},
        {"+905321112233", "TR", "05321112233"},  {"+79161234567", "RU", "89161234567"},
        {"+34912345678", "ES", "912345678"},     {"+12127365000", "US", "2127365000"},
        {"+442079460018", "GB", "02079460018"},  {"+493012345678", "DE", "03012345678"},
        {"+905321112233", "IT", "905321112233"}, /* foreign: digits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_EQ_INT(
            form(cases[i].e164, CMN_PHONE_LOOKUP_NATIONAL, cmn_phone_country(cases[i].iso)), 0);
        ASSERT_EQ_STR(form_out, cases[i].national);
    }
}

static void test_format_parse(void)
{
    cmn_phone_format_t f;
    ASSERT_EQ_INT(cmn_phone_format_parse("international", &f), 0);
    ASSERT_EQ_INT(f, CMN_PHONE_FORMAT_INTERNATIONAL);
    ASSERT_EQ_INT(cmn_phone_format_parse("National", &f), 0);
    ASSERT_EQ_INT(f, CMN_PHONE_FORMAT_NATIONAL);
    ASSERT_EQ_INT(cmn_phone_format_parse("auto", &f), 0);
    ASSERT_EQ_INT(f, CMN_PHONE_FORMAT_AUTO);
    ASSERT_EQ_INT(cmn_phone_format_parse("e164", &f), -1);
}

/* Extensions are internal only up to the configured length, and never when
 * written with an international prefix. */
static void test_internal_length(void)
{
    char out[CMN_PHONE_MAX];
    cmn_phone_opts_t o = {cmn_phone_country("IT"), CMN_PHONE_FORMAT_AUTO, 4};
    ASSERT_EQ_INT(cmn_phone_normalise("2207", &o, out, sizeof out), CMN_PHONE_INTERNAL);
    ASSERT_EQ_INT(cmn_phone_normalise("22 07", &o, out, sizeof out), CMN_PHONE_INTERNAL);
    ASSERT_EQ_INT(cmn_phone_normalise("22071", &o, out, sizeof out), CMN_PHONE_INVALID);
    o.internal_max_digits = 0;
    ASSERT_EQ_INT(cmn_phone_normalise("2207", &o, out, sizeof out), CMN_PHONE_INVALID);
}

TEST_MAIN("phone", TEST_CASE(test_table), TEST_CASE(test_table_lookup_forms),
          TEST_CASE(test_national_forms), TEST_CASE(test_format_parse),
          TEST_CASE(test_internal_length), TEST_CASE(test_country_lookup),
          TEST_CASE(test_italy_keeps_leading_zero), TEST_CASE(test_turkey_drops_trunk_zero),
          TEST_CASE(test_international_prefix_00), TEST_CASE(test_north_america),
          TEST_CASE(test_withheld), TEST_CASE(test_invalid), TEST_CASE(test_small_output_buffer),
          TEST_CASE(test_lookup_parse), TEST_CASE(test_lookup_forms),
          TEST_CASE(test_lookup_form_round_trip), TEST_CASE(test_lookup_form_rejects_non_e164))
