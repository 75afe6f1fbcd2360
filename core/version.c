/* vl_version (include/vellum/version.h). */
#include "vellum/version.h"

const char *vl_version(void)
{
    return VL_VERSION_STRING;
}
