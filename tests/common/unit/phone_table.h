/* The number table of issue 9: numbers from our users' countries (IT, TR,
 * RU, ES, US, GB, DE) in every form providers send them, with the E.164
 * each must give, or its rejection. Shared by test_phone.c (E.164 and the
 * R-I2 look-up forms) so that one list is the truth for both. */
#ifndef PHONE_TABLE_H
#define PHONE_TABLE_H

#include "cmn_phone.h"

enum { PT_OK, PT_WITHHELD, PT_INTERNAL, PT_INVALID };

typedef struct {
    const char *raw;
    const char *country; /* default country (CALLBUS_DEFAULT_COUNTRY) */
    cmn_phone_format_t format;
    int want; /* PT_* */
    const char *e164;
} phone_row_t;

#define AUTO CMN_PHONE_FORMAT_AUTO
#define INTL CMN_PHONE_FORMAT_INTERNATIONAL
#define NATL CMN_PHONE_FORMAT_NATIONAL

static const phone_row_t phone_table[] = {
    /* Italy: no trunk prefix, the leading 0 of fixed lines is part of the number */
    {"+39 06 1234 5678", "IT", AUTO, PT_OK, "+390612345678"},
    {"0039 06 1234 5678", "IT", AUTO, PT_OK, "+390612345678"},
    {"390612345678", "IT", INTL, PT_OK, "+390612345678"},
    {"06 1234 5678", "IT", AUTO, PT_OK, "+390612345678"},
    {"06-1234-5678", "IT", AUTO, PT_OK, "+390612345678"},
    {"06.1234.5678", "IT", NATL, PT_OK, "+390612345678"},
    {"(06) 1234 5678", "IT", AUTO, PT_OK, "+390612345678"},
    {"347 123 4567", "IT", AUTO, PT_OK, "+393471234567"},
    {"+39 347 123 4567", "TR", AUTO, PT_OK, "+393471234567"},
    {"393471234567", "TR", INTL, PT_OK, "+393471234567"},
    {"02 8736 1234", "IT", AUTO, PT_OK, "+390287361234"},
    {"1112233", "IT", AUTO, PT_INVALID, NULL}, /* issue 9: was +391112233 */
    {"2207", "IT", AUTO, PT_INTERNAL, NULL},   /* an extension, not +392207 */
    {"123", "IT", AUTO, PT_INTERNAL, NULL},
    /* Turkey: trunk 0 dropped */
    {"+90 532 111 22 33", "IT", AUTO, PT_OK, "+905321112233"},
    {"0090 532 111 22 33", "IT", AUTO, PT_OK, "+905321112233"},
    {"905321112233", "IT", INTL, PT_OK,
     "+905321112233"}, /* CallGear under IT: was +39905321112233 */
    {"905321112233", "IT", AUTO, PT_OK, "+905321112233"},
    {"0532 111 22 33", "TR", AUTO, PT_OK, "+905321112233"},
    {"532 111 22 33", "TR", AUTO, PT_OK, "+905321112233"},
    {"+90 (532) 111-22-33", "TR", AUTO, PT_OK, "+905321112233"},
    {"0212 345 67 89", "TR", AUTO, PT_OK, "+902123456789"},
    {"905321112233", "TR", INTL, PT_OK, "+905321112233"},
    {"+90 532 111 22", "TR", AUTO, PT_INVALID, NULL}, /* a digit short */
    /* Russia: trunk 8 dropped; 8 10 is its international prefix */
    {"+7 916 123-45-67", "IT", AUTO, PT_OK, "+79161234567"},
    {"007 916 123 45 67", "IT", AUTO, PT_OK, "+79161234567"},
    {"79161234567", "IT", INTL, PT_OK, "+79161234567"},
    {"79161234567", "TR", INTL, PT_OK, "+79161234567"}, /* CallGear under TR: was +9079161234567 */
    {"79161234567", "TR", AUTO, PT_OK, "+79161234567"},
    {"8 916 123-45-67", "RU", AUTO, PT_OK, "+79161234567"}, /* was +789161234567 */
    {"89161234567", "RU", NATL, PT_OK, "+79161234567"},
    {"8 (495) 123-45-67", "RU", AUTO, PT_OK, "+74951234567"},
    {"+7 (495) 123-45-67", "RU", AUTO, PT_OK, "+74951234567"},
    {"916 123 45 67", "RU", AUTO, PT_OK, "+79161234567"},
    /* Spain: no trunk prefix */
    {"+34 912 34 56 78", "IT", AUTO, PT_OK, "+34912345678"},
    {"0034 912 34 56 78", "TR", AUTO, PT_OK, "+34912345678"},
    {"34912345678", "IT", INTL, PT_OK, "+34912345678"},
    {"912 34 56 78", "ES", AUTO, PT_OK, "+34912345678"},
    {"612-34-56-78", "ES", AUTO, PT_OK, "+34612345678"},
    {"+34 612 34 56 7", "ES", AUTO, PT_INVALID, NULL},
    /* United States: trunk 1, international prefix 011 */
    {"+1 212 736 5000", "IT", AUTO, PT_OK, "+12127365000"},
    {"001 212 736 5000", "IT", AUTO, PT_OK, "+12127365000"},
    {"12127365000", "IT", INTL, PT_OK, "+12127365000"},
    {"(212) 736-5000", "US", AUTO, PT_OK, "+12127365000"},
    {"212.736.5000", "US", AUTO, PT_OK, "+12127365000"},
    {"1 212 736 5000", "US", AUTO, PT_OK, "+12127365000"},
    {"1-212-736-5000", "US", NATL, PT_OK, "+12127365000"},
    {"011 39 06 1234 5678", "US", AUTO, PT_OK, "+390612345678"},
    {"736-5000", "US", AUTO, PT_INVALID, NULL}, /* no area code */
    /* United Kingdom: trunk 0 dropped */
    {"+44 20 7946 0018", "IT", AUTO, PT_OK, "+442079460018"},
    {"0044 20 7946 0018", "IT", AUTO, PT_OK, "+442079460018"},
    {"442079460018", "IT", INTL, PT_OK, "+442079460018"},
    {"020 7946 0018", "GB", AUTO, PT_OK, "+442079460018"},
    {"07400 123456", "GB", AUTO, PT_OK, "+447400123456"},
    {"+44 (0)20 7946 0018", "GB", AUTO, PT_OK, "+442079460018"},
    /* Germany: trunk 0 dropped */
    {"+49 30 12345678", "IT", AUTO, PT_OK, "+493012345678"},
    {"0049 30 12345678", "TR", AUTO, PT_OK, "+493012345678"},
    {"493012345678", "IT", INTL, PT_OK, "+493012345678"},
    {"030 12345678", "DE", AUTO, PT_OK, "+493012345678"},
    {"0151 23456789", "DE", AUTO, PT_OK, "+4915123456789"},
    {"030/1234-5678", "DE", AUTO, PT_OK, "+493012345678"},
    /* both readings valid (Albanian mobile / Italian mobile; UAE mobile /
     * German fixed line): the provider's number format decides */
    {"355672123456", "IT", INTL, PT_OK, "+355672123456"},
    {"355672123456", "IT", NATL, PT_OK, "+39355672123456"},
    {"355672123456", "IT", AUTO, PT_OK, "+39355672123456"},
    {"971501234567", "DE", INTL, PT_OK, "+971501234567"},
    {"971501234567", "DE", AUTO, PT_OK, "+49971501234567"},
    /* only a reading the provider's format names may be merely possible */
    {"1112233", "IT", NATL, PT_OK, "+391112233"},
    {"+39 1112233", "TR", AUTO, PT_OK, "+391112233"}, /* explicit: possible is enough */
    /* withheld, in the words providers use */
    {"anonymous", "IT", AUTO, PT_WITHHELD, NULL},
    {"Private", "TR", AUTO, PT_WITHHELD, NULL},
    {"", "RU", INTL, PT_WITHHELD, NULL},
    {"  ", "ES", AUTO, PT_WITHHELD, NULL},
    {"unknown", "US", AUTO, PT_WITHHELD, NULL},
    {"withheld", "GB", AUTO, PT_WITHHELD, NULL},
    {"restricted", "DE", AUTO, PT_WITHHELD, NULL},
    /* not numbers */
    {"06 12AB 5678", "IT", AUTO, PT_INVALID, NULL},
    {"0800-CALLBUS", "IT", AUTO, PT_INVALID, NULL},
    {"*31#0612345678", "IT", AUTO, PT_INVALID, NULL},
    {"++390612345678", "IT", AUTO, PT_INVALID, NULL},
    {"+0612345678", "IT", AUTO, PT_INVALID, NULL},
    {"+1234567890123456", "IT", AUTO, PT_INVALID, NULL}, /* 16 digits */
    {"-- ()", "IT", AUTO, PT_INVALID, NULL},
    {"00", "IT", AUTO, PT_INVALID, NULL},
};

#define PHONE_TABLE_N (sizeof phone_table / sizeof phone_table[0])

#endif
