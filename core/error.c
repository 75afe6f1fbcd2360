/* vl_strerror: fixed text per code, never provider text. */
#include "vellum/error.h"

const char *vl_strerror(int err)
{
    switch (err) {
    case VL_OK: return "success";
    case VL_ERR_ARG: return "invalid argument";
    case VL_ERR_AUTH: return "authentication failed: data altered or wrong key";
    case VL_ERR_LIMIT: return "key usage limit reached: rotate the key";
    case VL_ERR_FORMAT: return "malformed input";
    case VL_ERR_NOMEM: return "out of memory";
    case VL_ERR_RNG: return "random number source failed";
    case VL_ERR_UNSUPPORTED: return "not supported on this build or CPU";
    case VL_ERR_NOT_FOUND: return "not found";
    case VL_ERR_KMS_UNAVAILABLE: return "KMS unavailable (retryable)";
    case VL_ERR_KMS_DENIED: return "KMS denied access";
    case VL_ERR_KEY_DISABLED: return "key disabled";
    case VL_ERR_KEY_DESTROYED: return "key destroyed";
    case VL_ERR_IO: return "I/O error";
    case VL_ERR_EXISTS: return "already exists";
    case VL_ERR_BUSY: return "still in use: delete what depends on it first";
    default: return "unknown error";
    }
}
