---@meta crypto
-- LuaCATS definitions for luster's `crypto` (Node's API over OpenSSL 3).
-- What Node gives as a Buffer is a binary Lua string; an `encoding`
-- argument ('hex', 'base64', 'base64url', 'latin1') gives text instead.
-- Keys are PEM (or DER) strings: there is no KeyObject class.

---Bytes: a (binary) string, a typed array or an ArrayBuffer.
---@alias crypto.BinaryLike string|ArrayBuffer|SharedArrayBuffer|TypedArray

---'hex', 'base64', 'base64url', 'latin1' ('binary'); 'buffer' or nil: raw bytes.
---@alias crypto.Encoding 'hex'|'base64'|'base64url'|'latin1'|'binary'|'buffer'

---A key argument: a PEM/DER string, or a table with options.
---@alias crypto.KeyLike string|{key: string, passphrase?: string, padding?: integer, saltLength?: integer, dsaEncoding?: 'der'|'ieee-p1363'}

---A streaming digest: `createHash('sha256'):update(s):digest('hex')`.
---@class crypto.Hash
local Hash = {}
---Add data (with `encoding`, text in that encoding is decoded first).
---@param data crypto.BinaryLike
---@param encoding? string
---@return crypto.Hash
function Hash:update(data, encoding) end
---The digest (raw bytes, or text in `encoding`); the hash is then finished.
---@param encoding? crypto.Encoding
---@return string
function Hash:digest(encoding) end
---An independent copy of the state so far.
---@return crypto.Hash
function Hash:copy() end

---A streaming HMAC: `createHmac('sha256', key):update(s):digest('hex')`.
---@class crypto.Hmac
local Hmac = {}
---@param data crypto.BinaryLike
---@param encoding? string
---@return crypto.Hmac
function Hmac:update(data, encoding) end
---@param encoding? crypto.Encoding
---@return string
function Hmac:digest(encoding) end

---The streaming shape of crypto.sign.
---@class crypto.Sign
local Sign = {}
---@param data crypto.BinaryLike
---@param encoding? string
---@return crypto.Sign
function Sign:update(data, encoding) end
---The signature of everything added, with a private key.
---@param key crypto.KeyLike
---@param encoding? crypto.Encoding
---@return string
function Sign:sign(key, encoding) end

---The streaming shape of crypto.verify.
---@class crypto.Verify
local Verify = {}
---@param data crypto.BinaryLike
---@param encoding? string
---@return crypto.Verify
function Verify:update(data, encoding) end
---Whether `signature` (text in `encoding`, when given) is valid.
---@param key crypto.KeyLike
---@param signature crypto.BinaryLike
---@param encoding? crypto.Encoding
---@return boolean
function Verify:verify(key, signature, encoding) end

---@class crypto.KeyPair
---@field publicKey string
---@field privateKey string

---Options of generateKeyPair (Node's names).
---@class crypto.KeyPairOptions
---@field modulusLength? integer RSA: bits (required)
---@field publicExponent? integer RSA (65537)
---@field namedCurve? string EC: 'prime256v1', 'secp384r1'... (required)
---@field publicKeyEncoding? {type?: 'spki'|'pkcs1', format?: 'pem'|'der'}
---@field privateKeyEncoding? {type?: 'pkcs8'|'pkcs1'|'sec1', format?: 'pem'|'der', cipher?: string, passphrase?: string}

---@class crypto.ScryptOptions
---@field N? integer cost (16384); also `cost`
---@field r? integer block size (8); also `blockSize`
---@field p? integer parallelization (1); also `parallelization`
---@field maxmem? integer bytes (32 MiB)
---@field cost? integer
---@field blockSize? integer
---@field parallelization? integer

---RSA padding and PSS salt-length constants.
---@class crypto.constants
---@field RSA_PKCS1_PADDING integer
---@field RSA_NO_PADDING integer
---@field RSA_PKCS1_OAEP_PADDING integer
---@field RSA_PKCS1_PSS_PADDING integer
---@field RSA_PSS_SALTLEN_DIGEST integer
---@field RSA_PSS_SALTLEN_MAX_SIGN integer
---@field RSA_PSS_SALTLEN_AUTO integer

---The promise forms of the threadpool functions (luster's own: Node has
---no crypto.promises).
---@class crypto.promises
local promises = {}
---@param password crypto.BinaryLike
---@param salt crypto.BinaryLike
---@param iterations integer
---@param keylen integer
---@param digest string
---@return Promise # of the derived key
function promises.pbkdf2(password, salt, iterations, keylen, digest) end
---@param password crypto.BinaryLike
---@param salt crypto.BinaryLike
---@param keylen integer
---@param opts? crypto.ScryptOptions
---@return Promise # of the derived key
function promises.scrypt(password, salt, keylen, opts) end
---@param digest string
---@param ikm crypto.BinaryLike
---@param salt crypto.BinaryLike
---@param info crypto.BinaryLike
---@param keylen integer
---@return Promise # of the derived key
function promises.hkdf(digest, ikm, salt, info, keylen) end
---@param type 'rsa'|'rsa-pss'|'ec'|'ed25519'|'ed448'|'x25519'|'x448'
---@param opts? crypto.KeyPairOptions
---@return Promise # of a crypto.KeyPair
function promises.generateKeyPair(type, opts) end
---@param n integer
---@return Promise # of `n` random bytes
function promises.randomBytes(n) end

---@class crypto
local crypto = {}

---@type crypto.constants
crypto.constants = {}
---@type crypto.promises
crypto.promises = promises

---Bytes as text (a luster stand-in for Buffer#toString).
---@param data crypto.BinaryLike
---@param encoding 'hex'|'base64'|'base64url'|'latin1'
---@return string
function crypto.encode(data, encoding) end

---Text back to bytes (a luster stand-in for Buffer.from(text, encoding)).
---@param text string
---@param encoding 'hex'|'base64'|'base64url'|'latin1'
---@return string
function crypto.decode(text, encoding) end

---A streaming digest of any OpenSSL algorithm ('sha256', 'sha3-256',
---'blake2b512', 'shake256' with `outputLength`...).
---@param algorithm string
---@param opts? {outputLength?: integer}
---@return crypto.Hash
function crypto.createHash(algorithm, opts) end

---One-shot digest; `encoding` defaults to 'hex' (Node's crypto.hash).
---@param algorithm string
---@param data crypto.BinaryLike
---@param encoding? crypto.Encoding
---@return string
function crypto.hash(algorithm, data, encoding) end

---A streaming HMAC.
---@param algorithm string
---@param key crypto.BinaryLike
---@return crypto.Hmac
function crypto.createHmac(algorithm, key) end

---One-shot HMAC (a luster extension, like crypto.hash): hex by default.
---@param algorithm string
---@param key crypto.BinaryLike
---@param data crypto.BinaryLike
---@param encoding? crypto.Encoding
---@return string
function crypto.hmac(algorithm, key, data, encoding) end

---The digests OpenSSL offers, sorted.
---@return string[]
function crypto.getHashes() end

---`n` random bytes; with `cb`, given as `cb(nil, bytes)` on a later turn.
---@param n integer
---@param cb? fun(err: nil, bytes: string)
---@return string|nil
function crypto.randomBytes(n, cb) end

---A random RFC 4122 version 4 UUID.
---@return string
function crypto.randomUUID() end

---A uniform integer in [min, max) (`randomInt(max)`: min = 0); with `cb`,
---given as `cb(nil, n)` on a later turn.
---@param min integer
---@param max? integer|fun(err: nil, n: integer)
---@param cb? fun(err: nil, n: integer)
---@return integer|nil
function crypto.randomInt(min, max, cb) end

---Fill an integer typed array with random bytes (at most 65536); returns it.
---@generic T: TypedArray
---@param array T
---@return T
function crypto.getRandomValues(array) end

---Constant-time comparison of two equally long byte strings
---(ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH otherwise).
---@param a crypto.BinaryLike
---@param b crypto.BinaryLike
---@return boolean
function crypto.timingSafeEqual(a, b) end

---PBKDF2 on the calling thread: the derived key.
---@param password crypto.BinaryLike
---@param salt crypto.BinaryLike
---@param iterations integer
---@param keylen integer
---@param digest string
---@return string
function crypto.pbkdf2Sync(password, salt, iterations, keylen, digest) end

---PBKDF2 on the threadpool: `cb(err, key)`.
---@param password crypto.BinaryLike
---@param salt crypto.BinaryLike
---@param iterations integer
---@param keylen integer
---@param digest string
---@param cb fun(err: table|nil, key?: string)
function crypto.pbkdf2(password, salt, iterations, keylen, digest, cb) end

---scrypt on the calling thread: the derived key.
---@param password crypto.BinaryLike
---@param salt crypto.BinaryLike
---@param keylen integer
---@param opts? crypto.ScryptOptions
---@return string
function crypto.scryptSync(password, salt, keylen, opts) end

---scrypt on the threadpool: `scrypt(password, salt, keylen[, opts], cb)`.
---@param password crypto.BinaryLike
---@param salt crypto.BinaryLike
---@param keylen integer
---@param opts crypto.ScryptOptions|fun(err: table|nil, key?: string)
---@param cb? fun(err: table|nil, key?: string)
function crypto.scrypt(password, salt, keylen, opts, cb) end

---HKDF on the calling thread: the derived key.
---@param digest string
---@param ikm crypto.BinaryLike
---@param salt crypto.BinaryLike
---@param info crypto.BinaryLike at most 1024 bytes
---@param keylen integer
---@return string
function crypto.hkdfSync(digest, ikm, salt, info, keylen) end

---HKDF on the threadpool: `cb(err, key)`.
---@param digest string
---@param ikm crypto.BinaryLike
---@param salt crypto.BinaryLike
---@param info crypto.BinaryLike
---@param keylen integer
---@param cb fun(err: table|nil, key?: string)
function crypto.hkdf(digest, ikm, salt, info, keylen, cb) end

---Sign `data` with a private key; `algorithm` is a digest name, or nil
---for Ed25519/Ed448.  The signature bytes.
---@param algorithm string|nil
---@param data crypto.BinaryLike
---@param key crypto.KeyLike
---@return string
function crypto.sign(algorithm, data, key) end

---Verify `signature` over `data` with a public key (or a certificate, or a
---private key's public half).
---@param algorithm string|nil
---@param data crypto.BinaryLike
---@param key crypto.KeyLike
---@param signature crypto.BinaryLike
---@return boolean
function crypto.verify(algorithm, data, key, signature) end

---@param algorithm string
---@return crypto.Sign
function crypto.createSign(algorithm) end

---@param algorithm string
---@return crypto.Verify
function crypto.createVerify(algorithm) end

---Generate a key pair on the calling thread (PEM by default).
---@param type 'rsa'|'rsa-pss'|'ec'|'ed25519'|'ed448'|'x25519'|'x448'
---@param opts? crypto.KeyPairOptions
---@return crypto.KeyPair
function crypto.generateKeyPairSync(type, opts) end

---Generate a key pair on the threadpool: `cb(err, publicKey, privateKey)`.
---@param type 'rsa'|'rsa-pss'|'ec'|'ed25519'|'ed448'|'x25519'|'x448'
---@param opts crypto.KeyPairOptions|fun(err: table|nil, publicKey?: string, privateKey?: string)
---@param cb? fun(err: table|nil, publicKey?: string, privateKey?: string)
function crypto.generateKeyPair(type, opts, cb) end

---The type of a key ('rsa', 'ec', 'ed25519'...): a luster stand-in for
---KeyObject.asymmetricKeyType.
---@param key crypto.BinaryLike
---@return string
function crypto.keyType(key) end

return crypto
