--- `crypto` — Node's crypto API over OpenSSL 3 (runtime/crypto*.c).
---
--- Results that Node gives as Buffers are binary Lua strings; an `encoding`
--- argument ('hex', 'base64', 'base64url', 'latin1') gives text instead.
--- Data arguments take strings, typed arrays and ArrayBuffers.
--- Work-factor functions (pbkdf2, scrypt, hkdf, generateKeyPair) run on
--- libuv's threadpool in their callback and promise forms; `*Sync` runs on
--- the calling thread.  Keys are PEM (or DER) strings: luster has no
--- KeyObject class (see docs/API.md).
local native = require('native.crypto')
local kdf = require('native.crypto_kdf')
local pkey = require('native.crypto_pkey')
local bytes = require('luster.bytes')
local errors = require('luster.errors')
local Promise = require('luster.promise')

local type, floor, tostring = type, math.floor, tostring
local of = bytes.of
local encode, decode = native.encode, native.decode

local M = { promises = {} }

M.constants = {
  RSA_PKCS1_PADDING = 1, RSA_NO_PADDING = 3, RSA_PKCS1_OAEP_PADDING = 4,
  RSA_PKCS1_PSS_PADDING = 6, RSA_PSS_SALTLEN_DIGEST = -1,
  RSA_PSS_SALTLEN_MAX_SIGN = -2, RSA_PSS_SALTLEN_AUTO = -2,
}

local function throw(code, msg, level) error(errors.new(code, msg), (level or 1) + 1) end

local function check_string(v, name)
  if type(v) ~= 'string' then
    throw('ERR_INVALID_ARG_TYPE', ('The "%s" argument must be of type string. Received %s'):format(name, type(v)), 3)
  end
end

local function check_int(v, name, min, max)
  if type(v) ~= 'number' then
    throw('ERR_INVALID_ARG_TYPE', ('The "%s" argument must be of type number. Received %s'):format(name, type(v)), 3)
  end
  if v ~= floor(v) or v < min or v > max then
    throw('ERR_OUT_OF_RANGE', ('The value of "%s" is out of range. It must be >= %d && <= %d. Received %s')
      :format(name, min, max, tostring(v)), 3)
  end
end

local function check_callback(cb)
  if type(cb) ~= 'function' then
    throw('ERR_INVALID_ARG_TYPE', 'The "callback" argument must be of type function. Received ' .. type(cb), 3)
  end
end

-- Text input with an input encoding ('hex', 'base64'...); 'utf8' is as is.
local function input(data, enc, name)
  if type(data) == 'string' then
    if enc and enc ~= 'utf8' and enc ~= 'utf-8' then return decode(data, enc) end
    return data
  end
  return of(data, name)
end

--- Byte encodings (a luster extension standing in for Buffer#toString and
--- Buffer.from): `crypto.encode(bytes, 'hex'|'base64'|'base64url')`.
M.encode = function(data, enc) return encode(of(data), enc) end
M.decode = function(text, enc) return decode(text, enc) end

-- ------------------------------------------------------------ Hash, Hmac

-- The userdata classes' method tables come from C; updates of strings go
-- straight to C, anything else is turned into bytes first.
do
  for _, class in ipairs { native.Hash, native.Hmac } do
    local raw = class.update
    class.update = function(self, data, enc)
      if type(data) == 'string' and enc == nil then return raw(self, data) end
      return raw(self, input(data, enc, 'data'))
    end
  end
end

--- A streaming digest: `createHash('sha256'):update(s):digest('hex')`.
---@param algorithm string any OpenSSL digest ('md5', 'sha256', 'sha3-256', 'blake2b512', 'shake256'...)
---@param opts? {outputLength?: integer} for XOFs (shake128/256)
function M.createHash(algorithm, opts)
  check_string(algorithm, 'algorithm')
  return native.hash_new(algorithm, opts and opts.outputLength)
end

--- One-shot digest; `encoding` defaults to 'hex' as Node's crypto.hash.
---@param algorithm string
---@param data string|ffi.cdata*
---@param encoding? string
function M.hash(algorithm, data, encoding)
  check_string(algorithm, 'algorithm')
  if type(data) ~= 'string' then data = of(data, 'data') end
  if encoding == 'buffer' then encoding = nil elseif encoding == nil then encoding = 'hex' end
  return native.hash(algorithm, data, encoding)
end

--- A streaming HMAC: `createHmac('sha256', key):update(s):digest('hex')`.
function M.createHmac(algorithm, key)
  check_string(algorithm, 'hmac')
  return native.hmac_new(algorithm, of(key, 'key'))
end

--- One-shot HMAC (a luster extension, like crypto.hash): hex by default.
function M.hmac(algorithm, key, data, encoding)
  check_string(algorithm, 'hmac')
  if encoding == 'buffer' then encoding = nil elseif encoding == nil then encoding = 'hex' end
  return native.hmac(algorithm, of(key, 'key'), of(data, 'data'), encoding)
end

--- Names of the digests OpenSSL offers.
function M.getHashes()
  local names = native.hashes()
  table.sort(names)
  return names
end

-- ------------------------------------------------------------ randomness

local function later(fn, ...) setImmediate(fn, ...) end

--- `n` random bytes; with `cb`, delivered as cb(nil, bytes) on a later turn.
function M.randomBytes(n, cb)
  check_int(n, 'size', 0, 2147483647)
  local b = native.random_bytes(n)
  if cb == nil then return b end
  check_callback(cb)
  later(cb, nil, b)
end

local uuid_pool, uuid_at = '', 1
local UUID_BATCH = 16 * 128   -- random bytes fetched at once, as Node caches them

--- A random RFC 4122 version 4 UUID.
function M.randomUUID()
  if uuid_at > #uuid_pool then uuid_pool, uuid_at = native.random_bytes(UUID_BATCH), 1 end
  local r = uuid_pool:sub(uuid_at, uuid_at + 15)
  uuid_at = uuid_at + 16
  local b7, b9 = r:byte(7), r:byte(9)
  r = r:sub(1, 6) .. string.char(bit.bor(bit.band(b7, 0x0f), 0x40)) .. r:sub(8, 8)
      .. string.char(bit.bor(bit.band(b9, 0x3f), 0x80)) .. r:sub(10)
  local h = encode(r, 'hex')
  return h:sub(1, 8) .. '-' .. h:sub(9, 12) .. '-' .. h:sub(13, 16) .. '-' .. h:sub(17, 20) .. '-' .. h:sub(21)
end

local TWO48 = 2 ^ 48
--- A uniform integer in [min, max) (`randomInt(max)` means min = 0).
function M.randomInt(min, max, cb)
  if type(max) == 'function' or max == nil then min, max, cb = 0, min, max end
  check_int(min, 'min', -(2 ^ 53 - 1), 2 ^ 53 - 1)
  check_int(max, 'max', -(2 ^ 53 - 1), 2 ^ 53 - 1)
  local range = max - min
  if range <= 0 or range > TWO48 then
    throw('ERR_OUT_OF_RANGE', ('The value of "max" is out of range. It must be greater than the value of "min" (%d) and max - min must be <= 2^48. Received %d'):format(min, max))
  end
  -- rejection sampling over 48-bit draws keeps the result unbiased
  local limit = TWO48 - TWO48 % range
  local x
  repeat
    local a, b, c, d, e, f = native.random_bytes(6):byte(1, 6)
    x = ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f
  until x < limit
  local v = min + x % range
  if cb == nil then return v end
  check_callback(cb)
  later(cb, nil, v)
end

--- Fill an integer typed array with random bytes (at most 65536), returns it.
function M.getRandomValues(array)
  local buffers = require('luster.buffers')
  local k = buffers._kind_of(array)
  if not k or k.name:find('Float') then
    throw('ERR_INVALID_ARG_TYPE', 'The "typedArray" argument must be an integer-type TypedArray')
  end
  local n = array._len * k.size
  if n > 65536 then
    throw('QuotaExceededError', ("The ArrayBufferView's byte length (%d) exceeds the number of bytes of entropy available via this API (65536)"):format(n))
  end
  if n > 0 and array._b._data ~= nil then
    require('ffi').copy(array._b._data + array._off, native.random_bytes(n), n)
  end
  return array
end

--- Constant-time comparison of two equally long byte strings.
function M.timingSafeEqual(a, b)
  a, b = of(a, 'buf1'), of(b, 'buf2')
  if #a ~= #b then
    throw('ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH', 'Input buffers must have the same byte length')
  end
  return native.timing_safe_equal(a, b)
end

-- ---------------------------------------------------- key derivation (KDF)

-- Each KDF as (sync, callback, promise) from one argument reader.
local function kdf_forms(name, read, run)
  M[name .. 'Sync'] = function(...) return run(read(...)) end
  M[name] = function(...)
    local n = select('#', ...)
    local cb = select(n, ...)
    check_callback(cb)
    local args = { read(...) }
    args[#args + 1] = cb
    run(unpack(args, 1, #args))
  end
  M.promises[name] = function(...)
    local args = { read(...) }
    return Promise.new(function(resolve, reject)
      args[#args + 1] = function(err, key) if err then reject(err) else resolve(key) end end
      run(unpack(args, 1, #args))
    end)
  end
end

kdf_forms('pbkdf2', function(password, salt, iterations, keylen, digest)
  check_int(iterations, 'iterations', 1, 2147483647)
  check_int(keylen, 'keylen', 0, 2147483647)
  check_string(digest, 'digest')
  return of(password, 'password'), of(salt, 'salt'), iterations, keylen, digest
end, kdf.pbkdf2)

local SCRYPT_DEFAULTS = { N = 16384, r = 8, p = 1, maxmem = 32 * 1024 * 1024 }
kdf_forms('scrypt', function(password, salt, keylen, opts)
  check_int(keylen, 'keylen', 0, 2147483647)
  if type(opts) ~= 'table' then opts = SCRYPT_DEFAULTS end
  local N = opts.N or opts.cost or SCRYPT_DEFAULTS.N
  local r = opts.r or opts.blockSize or SCRYPT_DEFAULTS.r
  local p = opts.p or opts.parallelization or SCRYPT_DEFAULTS.p
  return of(password, 'password'), of(salt, 'salt'), keylen, N, r, p, opts.maxmem or SCRYPT_DEFAULTS.maxmem
end, kdf.scrypt)

kdf_forms('hkdf', function(digest, ikm, salt, info, keylen)
  check_string(digest, 'digest')
  check_int(keylen, 'keylen', 0, 2147483647)
  local i = of(info, 'info')
  if #i > 1024 then throw('ERR_OUT_OF_RANGE', 'The value of "info" is out of range. It must be <= 1024 bytes') end
  return digest, of(ikm, 'ikm'), of(salt, 'salt'), i, keylen
end, kdf.hkdf)

-- ------------------------------------------------ signatures and key pairs

-- key: a PEM/DER string, or {key=, passphrase=, padding=, saltLength=, dsaEncoding=}
local function key_args(key)
  if type(key) == 'table' then return of(key.key, 'key'), key end
  return of(key, 'key'), nil
end

--- Sign `data` with a private key; `algorithm` is a digest name, or nil for
--- Ed25519/Ed448.  Returns the signature bytes.
function M.sign(algorithm, data, key)
  local pem, opts = key_args(key)
  return pkey.sign(algorithm, of(data, 'data'), pem, opts)
end

--- Verify `signature` over `data` with a public key (or a certificate, or
--- a private key's public half).
function M.verify(algorithm, data, key, signature)
  local pem, opts = key_args(key)
  return pkey.verify(algorithm, of(data, 'data'), pem, of(signature, 'signature'), opts)
end

--- createSign/createVerify: the streaming shape of sign/verify.
function M.createSign(algorithm)
  local parts = {}
  return {
    update = function(self, data, enc) parts[#parts + 1] = input(data, enc, 'data') return self end,
    sign = function(_, key, enc)
      local sig = M.sign(algorithm, table.concat(parts), key)
      return enc and encode(sig, enc) or sig
    end,
  }
end
function M.createVerify(algorithm)
  local parts = {}
  return {
    update = function(self, data, enc) parts[#parts + 1] = input(data, enc, 'data') return self end,
    verify = function(_, key, sig, enc)
      return M.verify(algorithm, table.concat(parts), key, enc and decode(sig, enc) or sig)
    end,
  }
end

local STRUCTURES = {
  spki = 'SubjectPublicKeyInfo', pkcs8 = 'PrivateKeyInfo',
  pkcs1 = 'type-specific', sec1 = 'type-specific',
}
local KEY_TYPES = { rsa = true, ['rsa-pss'] = true, ec = true, ed25519 = true, ed448 = true,
                    x25519 = true, x448 = true }

local function keygen_opts(type_, opts)
  check_string(type_, 'type')
  if not KEY_TYPES[type_] then
    throw('ERR_INVALID_ARG_VALUE', ("The argument 'type' must be a supported key type. Received '%s'"):format(type_), 3)
  end
  opts = opts or {}
  local pub, priv = opts.publicKeyEncoding or {}, opts.privateKeyEncoding or {}
  local o = {
    bits = opts.modulusLength, exponent = opts.publicExponent, curve = opts.namedCurve,
    pubStructure = STRUCTURES[pub.type or 'spki'], privStructure = STRUCTURES[priv.type or 'pkcs8'],
    pubFormat = (pub.format or 'pem'):upper(), privFormat = (priv.format or 'pem'):upper(),
    cipher = priv.cipher, passphrase = priv.passphrase,
  }
  if (type_ == 'rsa' or type_ == 'rsa-pss') and type(o.bits) ~= 'number' then
    throw('ERR_INVALID_ARG_TYPE', 'The "options.modulusLength" property must be of type number. Received ' .. type(o.bits), 3)
  end
  if type_ == 'ec' and type(o.curve) ~= 'string' then
    throw('ERR_INVALID_ARG_TYPE', 'The "options.namedCurve" property must be of type string. Received ' .. type(o.curve), 3)
  end
  return type_, o
end

--- Generate a key pair: returns publicKey, privateKey (PEM by default).
function M.generateKeyPairSync(type_, opts)
  local publicKey, privateKey = pkey.keygen(keygen_opts(type_, opts))
  return { publicKey = publicKey, privateKey = privateKey }
end

--- cb(err, publicKey, privateKey), generated on the threadpool.
function M.generateKeyPair(type_, opts, cb)
  if type(opts) == 'function' then opts, cb = nil, opts end
  check_callback(cb)
  local t, o = keygen_opts(type_, opts)
  pkey.keygen(t, o, cb)
end

function M.promises.generateKeyPair(type_, opts)
  local t, o = keygen_opts(type_, opts)
  return Promise.new(function(resolve, reject)
    pkey.keygen(t, o, function(err, publicKey, privateKey)
      if err then reject(err) else resolve({ publicKey = publicKey, privateKey = privateKey }) end
    end)
  end)
end

function M.promises.randomBytes(n)
  check_int(n, 'size', 0, 2147483647)
  return Promise.resolve(native.random_bytes(n))
end

--- The type of a key ('rsa', 'ec', 'ed25519'...): a luster stand-in for
--- KeyObject.asymmetricKeyType.
function M.keyType(key) return pkey.key_type(of(key, 'key')) end

return M
