/* Test helper for test_twilio_signature.py: prints 1 when
 * ing_twilio_signature_ok accepts the signature, 0 when not.
 * usage: ing_twilio_sigcheck <auth token> <full url> <form body> <signature> */
#include "ing_form.h"
#include "ing_twilio.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    ing_form_t form;
    ing_error_t err;
    if (argc != 5) {
        fprintf(stderr, "usage: %s token url body signature\n", argv[0]);
        return 2;
    }
    if (ing_form_parse(argv[3], strlen(argv[3]), &form, &err) < 0) {
        fprintf(stderr, "bad form: %s\n", err.msg);
        return 2;
    }
    printf("%d\n", ing_twilio_signature_ok(argv[1], argv[2], &form, argv[4]));
    ing_form_free(&form);
    return 0;
}
