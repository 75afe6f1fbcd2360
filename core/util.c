/* Memory hygiene shared by every layer. */
#include "internal.h"

#if !defined(__GNUC__) && !defined(__clang__)
void vl_memzero(void *p, size_t n)
{
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (p != NULL && n--)
        *v++ = 0;
}
#endif
