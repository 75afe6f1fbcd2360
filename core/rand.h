/* OS randomness (getrandom(2)). */
#ifndef VL_CORE_RAND_H
#define VL_CORE_RAND_H

#include <stddef.h>

/* Fills |buf| with |len| random bytes; VL_OK or VL_ERR_RNG. */
int vl_random(void *buf, size_t len);

#endif /* VL_CORE_RAND_H */
