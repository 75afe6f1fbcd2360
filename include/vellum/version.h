/* vellum: the library's version. */
#ifndef VELLUM_VERSION_H
#define VELLUM_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define VL_VERSION_MAJOR 0
#define VL_VERSION_MINOR 1
#define VL_VERSION_PATCH 0
#define VL_VERSION_STRING "0.1.0"

/* The version of the library linked in (VL_VERSION_STRING of its build). */
const char *vl_version(void);

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_VERSION_H */
