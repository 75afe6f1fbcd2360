/* vellum: envelope-encryption core. Include this one header for everything. */
#ifndef VELLUM_H
#define VELLUM_H

#include "vellum/error.h"
#include "vellum/aead.h"

#endif /* VELLUM_H */
