/* JSON form of ticket-service's state (tkt_call_t, tkt_customer_t) and of a
 * plan's ops, as stored in Redis. JSON rather than a binary dump so an
 * operator can read a call's state with redis-cli, and so a new field does
 * not invalidate what is stored (missing members keep their zero value). */
#ifndef TKT_CODEC_H
#define TKT_CODEC_H

#include "tkt_model.h"

#include <jansson.h>

/* Encoders return a new reference (NULL on allocation failure). */
json_t *tkt_codec_call_to_json(const tkt_call_t *call);
json_t *tkt_codec_customer_to_json(const tkt_customer_t *cust);
json_t *tkt_codec_op_to_json(const tkt_op_t *op);

/* Decoders zero *out first and borrow `j`; 0, or -1 when j is not an object. */
int tkt_codec_call_from_json(const json_t *j, tkt_call_t *out);
int tkt_codec_customer_from_json(const json_t *j, tkt_customer_t *out);
int tkt_codec_op_from_json(const json_t *j, tkt_op_t *out);

#endif
