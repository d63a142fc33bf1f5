--- `zlib` — Node's zlib API over zlib and brotli (runtime/zlib.c).
---
--- `zlib.gzipSync(data[, opts])` and friends run on the calling thread;
--- `zlib.gzip(data[, opts], cb)` and `zlib.promises.gzip(data[, opts])`
--- run on libuv's threadpool (gzip/deflate/deflateRaw of 1 MiB or more as
--- blocks on several threads at once: runtime/zlib_parallel.c);
--- `zlib.createGzip(opts)` and friends are
--- streams (lua/luster/zlib_stream.lua).  Results are binary strings.
--- `maxOutputLength` bounds what one call may produce (ERR_BUFFER_TOO_LARGE),
--- so a zip bomb cannot exhaust memory; corrupt input raises Z_DATA_ERROR.
local native = require('native.zlib')
local bytes = require('luster.bytes')
local errors = require('luster.errors')
local Promise = require('luster.promise')

local type = type

local M = { promises = {} }

M.constants = {
  Z_NO_FLUSH = 0, Z_PARTIAL_FLUSH = 1, Z_SYNC_FLUSH = 2, Z_FULL_FLUSH = 3, Z_FINISH = 4,
  Z_BLOCK = 5, Z_OK = 0, Z_STREAM_END = 1, Z_NEED_DICT = 2, Z_ERRNO = -1,
  Z_STREAM_ERROR = -2, Z_DATA_ERROR = -3, Z_MEM_ERROR = -4, Z_BUF_ERROR = -5,
  Z_VERSION_ERROR = -6, Z_NO_COMPRESSION = 0, Z_BEST_SPEED = 1, Z_BEST_COMPRESSION = 9,
  Z_DEFAULT_COMPRESSION = -1, Z_FILTERED = 1, Z_HUFFMAN_ONLY = 2, Z_RLE = 3, Z_FIXED = 4,
  Z_DEFAULT_STRATEGY = 0, Z_MIN_WINDOWBITS = 8, Z_MAX_WINDOWBITS = 15,
  Z_DEFAULT_WINDOWBITS = 15, Z_MIN_CHUNK = 64, Z_DEFAULT_CHUNK = 16384,
  Z_MIN_MEMLEVEL = 1, Z_MAX_MEMLEVEL = 9, Z_DEFAULT_MEMLEVEL = 8,
  Z_MIN_LEVEL = -1, Z_MAX_LEVEL = 9,
  BROTLI_OPERATION_PROCESS = 0, BROTLI_OPERATION_FLUSH = 1, BROTLI_OPERATION_FINISH = 2,
  BROTLI_PARAM_MODE = 0, BROTLI_MODE_GENERIC = 0, BROTLI_MODE_TEXT = 1, BROTLI_MODE_FONT = 2,
  BROTLI_PARAM_QUALITY = 1, BROTLI_MIN_QUALITY = 0, BROTLI_MAX_QUALITY = 11,
  BROTLI_DEFAULT_QUALITY = 11, BROTLI_PARAM_LGWIN = 2, BROTLI_PARAM_LGBLOCK = 3,
  BROTLI_PARAM_SIZE_HINT = 5, BROTLI_PARAM_LARGE_WINDOW = 6,
}
for k, v in pairs(M.constants) do M[k] = v end

local function throw(code, msg, level) error(errors.new(code, msg), (level or 1) + 1) end

-- Node validates every numeric option against its range.
local RANGES = {
  level = { -1, 9 }, windowBits = { 8, 15 }, memLevel = { 1, 9 }, strategy = { 0, 4 },
  chunkSize = { 64, math.huge }, maxOutputLength = { 1, 2 ^ 53 },
}

--- Check and copy the options a call gives (nil: defaults).
local function options(opts)
  if opts == nil then return {} end
  if type(opts) ~= 'table' then
    throw('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object. Received ' .. type(opts), 3)
  end
  local o = {}
  for name, range in pairs(RANGES) do
    local v = opts[name]
    if v ~= nil then
      if type(v) ~= 'number' then
        throw('ERR_INVALID_ARG_TYPE', ('The "options.%s" property must be of type number. Received %s'):format(name, type(v)), 3)
      end
      if v ~= v or v < range[1] or v > range[2] then
        throw('ERR_OUT_OF_RANGE', ('The value of "options.%s" is out of range. It must be >= %s and <= %s. Received %s')
          :format(name, range[1], range[2], v), 3)
      end
      o[name] = v
    end
  end
  if opts.dictionary ~= nil then o.dictionary = bytes.of(opts.dictionary, 'options.dictionary') end
  if opts.params ~= nil then o.params = opts.params end
  return o
end
M._options = options

-- name -> native kind
local KINDS = {
  gzip = 'gzip', gunzip = 'gunzip', deflate = 'deflate', inflate = 'inflate',
  deflateRaw = 'deflateRaw', inflateRaw = 'inflateRaw', unzip = 'unzip',
  brotliCompress = 'brotliCompress', brotliDecompress = 'brotliDecompress',
}
M._kinds = KINDS

for name, kind in pairs(KINDS) do
  M[name .. 'Sync'] = function(data, opts)
    return native.run(kind, options(opts), bytes.of(data, 'buffer'))
  end
  M[name] = function(data, opts, cb)
    if type(opts) == 'function' then opts, cb = nil, opts end
    if type(cb) ~= 'function' then
      throw('ERR_INVALID_ARG_TYPE', 'The "callback" argument must be of type function. Received ' .. type(cb))
    end
    native.run(kind, options(opts), bytes.of(data, 'buffer'), cb)
  end
  M.promises[name] = function(data, opts)
    local o, d = options(opts), bytes.of(data, 'buffer')
    return Promise.new(function(resolve, reject)
      native.run(kind, o, d, function(err, out) if err then reject(err) else resolve(out) end end)
    end)
  end
end

--- CRC-32 of data, continuing from `value` (Node 22's zlib.crc32).
function M.crc32(data, value) return native.crc32(bytes.of(data, 'data'), value) end

-- Streams load on first use.
local stream_ctors = {
  createGzip = 'gzip', createGunzip = 'gunzip', createDeflate = 'deflate', createInflate = 'inflate',
  createDeflateRaw = 'deflateRaw', createInflateRaw = 'inflateRaw', createUnzip = 'unzip',
  createBrotliCompress = 'brotliCompress', createBrotliDecompress = 'brotliDecompress',
}
for ctor, kind in pairs(stream_ctors) do
  M[ctor] = function(opts) return require('luster.zlib_stream').new(kind, options(opts)) end
end

return M
