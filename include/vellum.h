/* vellum: envelope-encryption core. Include this one header for everything. */
#ifndef VELLUM_H
#define VELLUM_H

#include "vellum/version.h"
#include "vellum/error.h"
#include "vellum/aead.h"
#include "vellum/kms.h"
#include "vellum/kms_pkcs11.h"
#include "vellum/store.h"
#include "vellum/envelope.h"
#include "vellum/csfle.h"

#endif /* VELLUM_H */
