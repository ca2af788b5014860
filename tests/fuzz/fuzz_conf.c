/* fuzz_conf: feeds arbitrary bytes to conf_load_string, the path every
 * config file takes (yamlpos, libcyaml, cyerr, the checks).  A result is
 * freed; an error must be one terminated line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf *c = NULL;
    char err[256];
    memset(err, 0, sizeof(err));
    int rc = conf_load_string((const char *)data, size, "fuzz.yaml", &c, err,
                              sizeof(err));
    if ((rc == 0) != (c != NULL))
        abort();
    if (rc < 0 && (err[0] == '\0' || strchr(err, '\n')))
        abort();
    conf_free(c);
    return 0;
}
