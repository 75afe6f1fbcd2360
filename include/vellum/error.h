/* vellum: error codes.
 *
 * Every vellum function that can fail returns VL_OK (0) or one of the negative
 * VL_ERR_* codes below. The codes are stable: hosts may persist or switch on
 * them. Provider text (KMS messages, OS errors) is never passed through. */
#ifndef VELLUM_ERROR_H
#define VELLUM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    VL_OK = 0,
    VL_ERR_ARG = -1,             /* bad argument: NULL, size, overlap, capacity */
    VL_ERR_AUTH = -2,            /* tag mismatch: the input was altered */
    VL_ERR_LIMIT = -3,           /* a usage limit is reached: rotate the key */
    VL_ERR_FORMAT = -4,          /* malformed input bytes */
    VL_ERR_NOMEM = -5,
    VL_ERR_RNG = -6,             /* the OS random source failed */
    VL_ERR_UNSUPPORTED = -7,     /* algorithm or CPU path not available */
    VL_ERR_NOT_FOUND = -8,
    VL_ERR_KMS_UNAVAILABLE = -9, /* retryable: network, timeout */
    VL_ERR_KMS_DENIED = -10,     /* credentials or permissions */
    VL_ERR_KEY_DISABLED = -11,
    VL_ERR_KEY_DESTROYED = -12,
    VL_ERR_IO = -13,
    VL_ERR_EXISTS = -14,         /* a record with that identity already exists */
    VL_ERR_BUSY = -15            /* refused while something still depends on it */
};

/* vl_strerror returns a static, human-readable description of |err|. It never
 * returns NULL; an unknown code yields "unknown error". */
const char *vl_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_ERROR_H */
