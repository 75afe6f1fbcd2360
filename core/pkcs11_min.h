/* The part of the PKCS#11 (Cryptoki) C interface that core/kms_pkcs11.c
 * uses, written from the OASIS PKCS#11 Base Specification v2.40 (§3
 * "Data types", §5 "Functions") and v3.0, and the Current Mechanisms
 * Specification (AES key wrap, AES-GCM). Our own definitions, so the
 * library builds without any vendor or p11-kit header; the names are the
 * spec's, so code reads like the spec.
 *
 * Layout rules (Base v2.40 §2.1 "Structure packing"): on Unix every
 * structure uses the platform's default packing (only Windows packs to
 * one byte), CK_ULONG is the C `unsigned long`, and every function is a
 * plain C function reached through the CK_FUNCTION_LIST that
 * C_GetFunctionList returns (§5.4, general-purpose functions). The list is
 * the v2.x table (§3.6 CK_FUNCTION_LIST: a version, then 68 pointers in a
 * fixed order);
 * v3.0 modules return the same table from C_GetFunctionList (the v3.0
 * additions live in CK_FUNCTION_LIST_3_0, reached through C_GetInterface,
 * which we do not use). We declare the full table so the offsets are
 * right, typing only the functions we call.
 *
 * Checked against p11-kit 0.24.1's pkcs11.h (same values and offsets). */
#ifndef VL_CORE_PKCS11_MIN_H
#define VL_CORE_PKCS11_MIN_H

/* ---- basic types (Base v2.40 §3.1) ----------------------------------- */

typedef unsigned char CK_BYTE;
typedef CK_BYTE CK_BBOOL;
typedef CK_BYTE CK_UTF8CHAR;
typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_FLAGS;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_ULONG CK_OBJECT_CLASS;
typedef CK_ULONG CK_KEY_TYPE;
typedef CK_ULONG CK_ATTRIBUTE_TYPE;
typedef CK_ULONG CK_MECHANISM_TYPE;
typedef CK_ULONG CK_USER_TYPE;
typedef CK_ULONG CK_STATE;

#define CK_TRUE 1
#define CK_FALSE 0
#define CK_INVALID_HANDLE 0UL
#define CK_UNAVAILABLE_INFORMATION (~0UL)

typedef struct CK_VERSION {
    CK_BYTE major;
    CK_BYTE minor;
} CK_VERSION;

/* §3.2 slot and token types */
typedef struct CK_TOKEN_INFO {
    CK_UTF8CHAR label[32]; /* blank padded, not NUL terminated */
    CK_UTF8CHAR manufacturerID[32];
    CK_UTF8CHAR model[16];
    CK_BYTE serialNumber[16];
    CK_FLAGS flags;
    CK_ULONG ulMaxSessionCount;
    CK_ULONG ulSessionCount;
    CK_ULONG ulMaxRwSessionCount;
    CK_ULONG ulRwSessionCount;
    CK_ULONG ulMaxPinLen;
    CK_ULONG ulMinPinLen;
    CK_ULONG ulTotalPublicMemory;
    CK_ULONG ulFreePublicMemory;
    CK_ULONG ulTotalPrivateMemory;
    CK_ULONG ulFreePrivateMemory;
    CK_VERSION hardwareVersion;
    CK_VERSION firmwareVersion;
    CK_BYTE utcTime[16];
} CK_TOKEN_INFO;

#define CKF_TOKEN_INITIALIZED (1UL << 10)

/* §3.3 session types */
typedef struct CK_SESSION_INFO {
    CK_SLOT_ID slotID;
    CK_STATE state;
    CK_FLAGS flags;
    CK_ULONG ulDeviceError;
} CK_SESSION_INFO;

#define CKF_RW_SESSION (1UL << 1)
#define CKF_SERIAL_SESSION (1UL << 2)
#define CKU_USER 1UL
#define CKS_RO_PUBLIC_SESSION 0UL
#define CKS_RW_PUBLIC_SESSION 2UL

/* §3.4 object types */
typedef struct CK_ATTRIBUTE {
    CK_ATTRIBUTE_TYPE type;
    void *pValue;
    CK_ULONG ulValueLen;
} CK_ATTRIBUTE;

#define CKO_SECRET_KEY 4UL
#define CKK_GENERIC_SECRET 0x10UL
#define CKK_AES 0x1fUL

#define CKA_CLASS 0x0UL
#define CKA_TOKEN 0x1UL
#define CKA_PRIVATE 0x2UL
#define CKA_LABEL 0x3UL
#define CKA_VALUE 0x11UL
#define CKA_KEY_TYPE 0x100UL
#define CKA_ID 0x102UL
#define CKA_SENSITIVE 0x103UL
#define CKA_ENCRYPT 0x104UL
#define CKA_DECRYPT 0x105UL
#define CKA_WRAP 0x106UL
#define CKA_UNWRAP 0x107UL
#define CKA_EXTRACTABLE 0x162UL

/* §3.5 mechanisms; numbers from the Current Mechanisms Specification */
typedef struct CK_MECHANISM {
    CK_MECHANISM_TYPE mechanism;
    void *pParameter;
    CK_ULONG ulParameterLen;
} CK_MECHANISM;

typedef struct CK_MECHANISM_INFO {
    CK_ULONG ulMinKeySize;
    CK_ULONG ulMaxKeySize;
    CK_FLAGS flags;
} CK_MECHANISM_INFO;

#define CKF_ENCRYPT (1UL << 8)
#define CKF_DECRYPT (1UL << 9)
#define CKF_WRAP (1UL << 17)
#define CKF_UNWRAP (1UL << 18)

#define CKM_AES_GCM 0x1087UL
#define CKM_AES_KEY_WRAP 0x2109UL     /* RFC 3394 */
#define CKM_AES_KEY_WRAP_PAD 0x210aUL /* RFC 5649 in SoftHSM2 2.6 */
#define CKM_AES_KEY_WRAP_KWP 0x210bUL /* RFC 5649 as v3.0 names it */

/* CK_GCM_PARAMS as in v2.40 errata 01 and v3.0 (with ulIvBits). The
 * original v2.40 text omitted ulIvBits; modules built from it are not
 * binary compatible with this layout. */
typedef struct CK_GCM_PARAMS {
    CK_BYTE *pIv;
    CK_ULONG ulIvLen;
    CK_ULONG ulIvBits;
    CK_BYTE *pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits;
} CK_GCM_PARAMS;

/* §3.7 locking-related types: C_Initialize's arguments (§5.4) */
typedef CK_RV (*CK_CREATEMUTEX)(void **mutex);
typedef CK_RV (*CK_DESTROYMUTEX)(void *mutex);
typedef CK_RV (*CK_LOCKMUTEX)(void *mutex);
typedef CK_RV (*CK_UNLOCKMUTEX)(void *mutex);

typedef struct CK_C_INITIALIZE_ARGS {
    CK_CREATEMUTEX CreateMutex;
    CK_DESTROYMUTEX DestroyMutex;
    CK_LOCKMUTEX LockMutex;
    CK_UNLOCKMUTEX UnlockMutex;
    CK_FLAGS flags;
    void *pReserved;
} CK_C_INITIALIZE_ARGS;

#define CKF_OS_LOCKING_OK (1UL << 1)

/* ---- return values (Base v2.40 §3.6 CK_RV, §5.1; v3.0 for AEAD) ------- */

#define CKR_OK 0x0UL
#define CKR_HOST_MEMORY 0x2UL
#define CKR_SLOT_ID_INVALID 0x3UL
#define CKR_GENERAL_ERROR 0x5UL
#define CKR_FUNCTION_FAILED 0x6UL
#define CKR_ARGUMENTS_BAD 0x7UL
#define CKR_CANT_LOCK 0xaUL
#define CKR_ATTRIBUTE_SENSITIVE 0x11UL
#define CKR_DATA_LEN_RANGE 0x21UL
#define CKR_DEVICE_ERROR 0x30UL
#define CKR_DEVICE_MEMORY 0x31UL
#define CKR_DEVICE_REMOVED 0x32UL
#define CKR_ENCRYPTED_DATA_INVALID 0x40UL
#define CKR_ENCRYPTED_DATA_LEN_RANGE 0x41UL
#define CKR_AEAD_DECRYPT_FAILED 0x42UL /* v3.0 */
#define CKR_FUNCTION_CANCELED 0x50UL
#define CKR_KEY_HANDLE_INVALID 0x60UL
#define CKR_KEY_SIZE_RANGE 0x62UL
#define CKR_KEY_TYPE_INCONSISTENT 0x63UL
#define CKR_KEY_FUNCTION_NOT_PERMITTED 0x68UL
#define CKR_KEY_UNEXTRACTABLE 0x6aUL
#define CKR_MECHANISM_INVALID 0x70UL
#define CKR_MECHANISM_PARAM_INVALID 0x71UL
#define CKR_OBJECT_HANDLE_INVALID 0x82UL
#define CKR_OPERATION_ACTIVE 0x90UL
#define CKR_PIN_INCORRECT 0xa0UL
#define CKR_PIN_INVALID 0xa1UL
#define CKR_PIN_LEN_RANGE 0xa2UL
#define CKR_PIN_EXPIRED 0xa3UL
#define CKR_PIN_LOCKED 0xa4UL
#define CKR_SESSION_CLOSED 0xb0UL
#define CKR_SESSION_COUNT 0xb1UL
#define CKR_SESSION_HANDLE_INVALID 0xb3UL
#define CKR_TOKEN_NOT_PRESENT 0xe0UL
#define CKR_TOKEN_NOT_RECOGNIZED 0xe1UL
#define CKR_UNWRAPPING_KEY_HANDLE_INVALID 0xf0UL
#define CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT 0xf2UL
#define CKR_USER_ALREADY_LOGGED_IN 0x100UL
#define CKR_USER_NOT_LOGGED_IN 0x101UL
#define CKR_USER_PIN_NOT_INITIALIZED 0x102UL
#define CKR_USER_TYPE_INVALID 0x103UL
#define CKR_USER_ANOTHER_ALREADY_LOGGED_IN 0x104UL
#define CKR_WRAPPED_KEY_INVALID 0x110UL
#define CKR_WRAPPED_KEY_LEN_RANGE 0x112UL
#define CKR_WRAPPING_KEY_HANDLE_INVALID 0x113UL
#define CKR_WRAPPING_KEY_TYPE_INCONSISTENT 0x115UL
#define CKR_BUFFER_TOO_SMALL 0x150UL
#define CKR_CRYPTOKI_NOT_INITIALIZED 0x190UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL
#define CKR_FUNCTION_REJECTED 0x200UL

/* ---- the function list (Base v2.40 §5, in table order) ----------------- */

struct CK_FUNCTION_LIST;
typedef void (*CK_UNUSED_FN)(void); /* a slot we never call */

typedef struct CK_FUNCTION_LIST {
    CK_VERSION version;
    CK_RV (*C_Initialize)(void *pInitArgs);
    CK_RV (*C_Finalize)(void *pReserved);
    CK_UNUSED_FN C_GetInfo;
    CK_RV (*C_GetFunctionList)(struct CK_FUNCTION_LIST **ppFunctionList);
    CK_RV (*C_GetSlotList)(CK_BBOOL tokenPresent, CK_SLOT_ID *pSlotList, CK_ULONG *pulCount);
    CK_UNUSED_FN C_GetSlotInfo;
    CK_RV (*C_GetTokenInfo)(CK_SLOT_ID slotID, CK_TOKEN_INFO *pInfo);
    CK_UNUSED_FN C_GetMechanismList;
    CK_RV (*C_GetMechanismInfo)(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                CK_MECHANISM_INFO *pInfo);
    CK_UNUSED_FN C_InitToken;
    CK_UNUSED_FN C_InitPIN;
    CK_UNUSED_FN C_SetPIN;
    CK_RV (*C_OpenSession)(CK_SLOT_ID slotID, CK_FLAGS flags, void *pApplication, void *Notify,
                           CK_SESSION_HANDLE *phSession);
    CK_RV (*C_CloseSession)(CK_SESSION_HANDLE hSession);
    CK_UNUSED_FN C_CloseAllSessions;
    CK_RV (*C_GetSessionInfo)(CK_SESSION_HANDLE hSession, CK_SESSION_INFO *pInfo);
    CK_UNUSED_FN C_GetOperationState;
    CK_UNUSED_FN C_SetOperationState;
    CK_RV (*C_Login)(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR *pPin,
                     CK_ULONG ulPinLen);
    CK_UNUSED_FN C_Logout;
    CK_RV (*C_CreateObject)(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE *pTemplate,
                            CK_ULONG ulCount, CK_OBJECT_HANDLE *phObject);
    CK_UNUSED_FN C_CopyObject;
    CK_RV (*C_DestroyObject)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject);
    CK_UNUSED_FN C_GetObjectSize;
    CK_RV (*C_GetAttributeValue)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ATTRIBUTE *pTemplate, CK_ULONG ulCount);
    CK_UNUSED_FN C_SetAttributeValue;
    CK_RV (*C_FindObjectsInit)(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE *pTemplate,
                               CK_ULONG ulCount);
    CK_RV (*C_FindObjects)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE *phObject,
                           CK_ULONG ulMaxObjectCount, CK_ULONG *pulObjectCount);
    CK_RV (*C_FindObjectsFinal)(CK_SESSION_HANDLE hSession);
    CK_RV (*C_EncryptInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism,
                           CK_OBJECT_HANDLE hKey);
    CK_RV (*C_Encrypt)(CK_SESSION_HANDLE hSession, CK_BYTE *pData, CK_ULONG ulDataLen,
                       CK_BYTE *pEncryptedData, CK_ULONG *pulEncryptedDataLen);
    CK_UNUSED_FN C_EncryptUpdate;
    CK_UNUSED_FN C_EncryptFinal;
    CK_RV (*C_DecryptInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism,
                           CK_OBJECT_HANDLE hKey);
    CK_RV (*C_Decrypt)(CK_SESSION_HANDLE hSession, CK_BYTE *pEncryptedData,
                       CK_ULONG ulEncryptedDataLen, CK_BYTE *pData, CK_ULONG *pulDataLen);
    CK_UNUSED_FN C_DecryptUpdate;
    CK_UNUSED_FN C_DecryptFinal;
    CK_UNUSED_FN C_DigestInit;
    CK_UNUSED_FN C_Digest;
    CK_UNUSED_FN C_DigestUpdate;
    CK_UNUSED_FN C_DigestKey;
    CK_UNUSED_FN C_DigestFinal;
    CK_UNUSED_FN C_SignInit;
    CK_UNUSED_FN C_Sign;
    CK_UNUSED_FN C_SignUpdate;
    CK_UNUSED_FN C_SignFinal;
    CK_UNUSED_FN C_SignRecoverInit;
    CK_UNUSED_FN C_SignRecover;
    CK_UNUSED_FN C_VerifyInit;
    CK_UNUSED_FN C_Verify;
    CK_UNUSED_FN C_VerifyUpdate;
    CK_UNUSED_FN C_VerifyFinal;
    CK_UNUSED_FN C_VerifyRecoverInit;
    CK_UNUSED_FN C_VerifyRecover;
    CK_UNUSED_FN C_DigestEncryptUpdate;
    CK_UNUSED_FN C_DecryptDigestUpdate;
    CK_UNUSED_FN C_SignEncryptUpdate;
    CK_UNUSED_FN C_DecryptVerifyUpdate;
    CK_UNUSED_FN C_GenerateKey;
    CK_UNUSED_FN C_GenerateKeyPair;
    CK_RV (*C_WrapKey)(CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism,
                       CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                       CK_BYTE *pWrappedKey, CK_ULONG *pulWrappedKeyLen);
    CK_RV (*C_UnwrapKey)(CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism,
                         CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE *pWrappedKey,
                         CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE *pTemplate,
                         CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE *phKey);
    CK_UNUSED_FN C_DeriveKey;
    CK_UNUSED_FN C_SeedRandom;
    CK_UNUSED_FN C_GenerateRandom;
    CK_UNUSED_FN C_GetFunctionStatus;
    CK_UNUSED_FN C_CancelFunction;
    CK_UNUSED_FN C_WaitForSlotEvent;
} CK_FUNCTION_LIST;

typedef CK_RV (*CK_C_GetFunctionList)(CK_FUNCTION_LIST **ppFunctionList);

#endif /* VL_CORE_PKCS11_MIN_H */
