/* R-T9 on Dynamics 365: custom fields are columns of the incident table,
 * named by their logical names in CALLBUS_TICKET_FIELDS (the field ids of
 * the mapping). Which columns the table has, and of which type, is read
 * once at start-up from the entity's metadata (EntityDefinitions ...
 * /Attributes); a mapped column the table lacks is reported by the core
 * (tkt_fields.c), the rest are written into the case's create / PATCH body
 * with the JSON type their column takes. Pure: no I/O. Everything runs on
 * the adapter's (the service's) thread. */
#ifndef CRM_DYN_FIELDS_H
#define CRM_DYN_FIELDS_H

#include "crm_dyn_request.h"
#include "tkt_model.h"

#include <jansson.h>
#include <stddef.h>

/* How a column's value is written (Dataverse's AttributeType, grouped). */
typedef enum {
    CRM_DYN_COL_UNKNOWN, /* not in the metadata read (or none read): guessed */
    CRM_DYN_COL_TEXT,    /* String, Memo: a JSON string */
    CRM_DYN_COL_WHOLE,   /* Integer, BigInt: a JSON integer */
    CRM_DYN_COL_DECIMAL, /* Decimal, Double, Money: a JSON number */
    CRM_DYN_COL_CHOICE,  /* Picklist, State, Status: the option's integer value */
    CRM_DYN_COL_BOOL,    /* Boolean: true / false */
    CRM_DYN_COL_OTHER,   /* Lookup, DateTime, ...: not written from a field value */
} crm_dyn_col_type_t;

typedef struct {
    char name[TKT_ID_MAX];
    crm_dyn_col_type_t type;
} crm_dyn_column_t;

/* The incident's columns; owns cols (crm_dyn_columns_free). */
typedef struct {
    crm_dyn_column_t *cols;
    size_t n;
} crm_dyn_columns_t;

/* GET URL of the incident's attributes, LogicalName and AttributeType. 0,
 * or -1 when it does not fit. */
int crm_dyn_columns_url(const crm_dyn_conf_t *conf, char *out, size_t outsz);

/* Reads the answer's "value" array into *out (replacing what it held).
 * 0, or -1 with err (out left empty). */
int crm_dyn_columns_parse(const char *body, size_t len, crm_dyn_columns_t *out, char *err,
                          size_t errsz);

void crm_dyn_columns_free(crm_dyn_columns_t *c);

/* The type of column `name` (UNKNOWN when it is not among c). */
crm_dyn_col_type_t crm_dyn_columns_type(const crm_dyn_columns_t *c, const char *name);

/* Sets each of the n fields on `body` (a JSON object) as its column's
 * type takes it; a column of unknown type gets an integer when the value
 * is one, else a string. 0, or -1 with err (a value its column cannot take,
 * a name that is no column name): body may then hold some of them. */
int crm_dyn_columns_put(const crm_dyn_columns_t *c, json_t *body, const tkt_field_t *fields,
                        size_t n, char *err, size_t errsz);

#endif
