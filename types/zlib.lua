---@meta zlib
-- LuaCATS definitions for luster's `zlib`: zlib and Brotli in one call
-- (`gzipSync`), on the threadpool (`gzip(data, cb)`, `zlib.promises`) or as
-- Transform streams (`createGzip()`).  Results are binary strings; data
-- arguments take strings, typed arrays and ArrayBuffers.

---Node's zlib.constants (also fields of the module itself).
---@class zlib.constants
---@field Z_BEST_COMPRESSION integer 9
---@field Z_BEST_SPEED integer 1
---@field Z_BLOCK integer 5
---@field Z_BUF_ERROR integer -5
---@field Z_DATA_ERROR integer -3
---@field Z_DEFAULT_CHUNK integer 16384
---@field Z_DEFAULT_COMPRESSION integer -1
---@field Z_DEFAULT_MEMLEVEL integer 8
---@field Z_DEFAULT_STRATEGY integer 0
---@field Z_DEFAULT_WINDOWBITS integer 15
---@field Z_ERRNO integer -1
---@field Z_FILTERED integer 1
---@field Z_FINISH integer 4
---@field Z_FIXED integer 4
---@field Z_FULL_FLUSH integer 3
---@field Z_HUFFMAN_ONLY integer 2
---@field Z_MAX_LEVEL integer 9
---@field Z_MAX_MEMLEVEL integer 9
---@field Z_MAX_WINDOWBITS integer 15
---@field Z_MEM_ERROR integer -4
---@field Z_MIN_CHUNK integer 64
---@field Z_MIN_LEVEL integer -1
---@field Z_MIN_MEMLEVEL integer 1
---@field Z_MIN_WINDOWBITS integer 8
---@field Z_NEED_DICT integer 2
---@field Z_NO_COMPRESSION integer 0
---@field Z_NO_FLUSH integer 0
---@field Z_OK integer 0
---@field Z_PARTIAL_FLUSH integer 1
---@field Z_RLE integer 3
---@field Z_STREAM_END integer 1
---@field Z_STREAM_ERROR integer -2
---@field Z_SYNC_FLUSH integer 2
---@field Z_VERSION_ERROR integer -6
---@field BROTLI_DEFAULT_QUALITY integer 11
---@field BROTLI_MAX_QUALITY integer 11
---@field BROTLI_MIN_QUALITY integer 0
---@field BROTLI_MODE_FONT integer 2
---@field BROTLI_MODE_GENERIC integer 0
---@field BROTLI_MODE_TEXT integer 1
---@field BROTLI_OPERATION_FINISH integer 2
---@field BROTLI_OPERATION_FLUSH integer 1
---@field BROTLI_OPERATION_PROCESS integer 0
---@field BROTLI_PARAM_LARGE_WINDOW integer 6
---@field BROTLI_PARAM_LGBLOCK integer 3
---@field BROTLI_PARAM_LGWIN integer 2
---@field BROTLI_PARAM_MODE integer 0
---@field BROTLI_PARAM_QUALITY integer 1
---@field BROTLI_PARAM_SIZE_HINT integer 5

---Options of every zlib function (each is checked against its range:
---ERR_OUT_OF_RANGE).
---@class zlib.Options
---@field level? integer -1 (default) .. 9
---@field windowBits? integer 8 .. 15
---@field memLevel? integer 1 .. 9
---@field strategy? integer 0 .. 4 (Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED)
---@field chunkSize? integer bytes per output piece (16384, at least 64)
---@field maxOutputLength? integer the most one call may produce, else ERR_BUFFER_TOO_LARGE
---@field dictionary? string|ArrayBuffer|TypedArray a preset dictionary (deflate/inflate)
---@field params? table<integer, integer> Brotli parameters by BROTLI_PARAM_* key

---A compression or decompression stream (Node's Gzip, Deflate,
---BrotliCompress...): write input, read output.  Output is produced in
---bounded steps that wait while the readable side is full.
---@class zlib.ZlibBase: Transform
---@field bytesWritten integer input bytes taken so far
local ZlibBase = {}
---Flush what the compressor holds (default Z_SYNC_FLUSH), then `cb(err?)`.
---@param kind? integer|fun(err?: table)
---@param cb? fun(err?: table)
function ZlibBase:flush(kind, cb) end
---Change the compression level and strategy (deflate).
---@param level integer
---@param strategy integer
---@param cb? fun()
function ZlibBase:params(level, strategy, cb) end
---Reset the engine to its initial state.
function ZlibBase:reset() end
---Destroy the stream; `cb` on 'close'.
---@param cb? fun()
function ZlibBase:close(cb) end

---The promise forms (`zlib.promises.gzip(data[, opts])`).
---@class zlib.promises
local promises = {}

---A promise of the gzip (RFC 1952) of `data` (on the threadpool).
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return Promise
function promises.gzip(data, opts) end

---A promise of the gunzip of `data` (on the threadpool).
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return Promise
function promises.gunzip(data, opts) end

---A promise of the zlib-wrapped deflate (RFC 1950) of `data` (on the threadpool).
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return Promise
function promises.deflate(data, opts) end

---A promise of the inflate of zlib-wrapped deflate of `data` (on the threadpool).
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return Promise
function promises.inflate(data, opts) end

---A promise of the raw deflate (RFC 1951) of `data` (on the threadpool).
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return Promise
function promises.deflateRaw(data, opts) end

---A promise of the inflate of raw deflate of `data` (on the threadpool).
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return Promise
function promises.inflateRaw(data, opts) end

---A promise of the gunzip or inflate, by the header of `data` (on the threadpool).
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return Promise
function promises.unzip(data, opts) end

---A promise of the Brotli compression of `data` (on the threadpool).
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return Promise
function promises.brotliCompress(data, opts) end

---A promise of the Brotli decompression of `data` (on the threadpool).
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return Promise
function promises.brotliDecompress(data, opts) end

---@class zlib: zlib.constants
local zlib = {}

---@type zlib.constants
zlib.constants = {}
---@type zlib.promises
zlib.promises = promises

---CRC-32 of `data`, continuing from `value` (Node 22's zlib.crc32).
---@param data string|ArrayBuffer|TypedArray
---@param value? integer
---@return integer
function zlib.crc32(data, value) end

---The gzip (RFC 1952) of `data`, on the calling thread.
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return string
function zlib.gzipSync(data, opts) end
---The gzip (RFC 1952) of `data` on the threadpool: `cb(err, result)`.
---@param data string|ArrayBuffer|TypedArray
---@param opts zlib.Options|fun(err: table|nil, result?: string)
---@param cb? fun(err: table|nil, result?: string)
function zlib.gzip(data, opts, cb) end

---The gunzip of `data`, on the calling thread.
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return string
function zlib.gunzipSync(data, opts) end
---The gunzip of `data` on the threadpool: `cb(err, result)`.
---@param data string|ArrayBuffer|TypedArray
---@param opts zlib.Options|fun(err: table|nil, result?: string)
---@param cb? fun(err: table|nil, result?: string)
function zlib.gunzip(data, opts, cb) end

---The zlib-wrapped deflate (RFC 1950) of `data`, on the calling thread.
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return string
function zlib.deflateSync(data, opts) end
---The zlib-wrapped deflate (RFC 1950) of `data` on the threadpool: `cb(err, result)`.
---@param data string|ArrayBuffer|TypedArray
---@param opts zlib.Options|fun(err: table|nil, result?: string)
---@param cb? fun(err: table|nil, result?: string)
function zlib.deflate(data, opts, cb) end

---The inflate of zlib-wrapped deflate of `data`, on the calling thread.
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return string
function zlib.inflateSync(data, opts) end
---The inflate of zlib-wrapped deflate of `data` on the threadpool: `cb(err, result)`.
---@param data string|ArrayBuffer|TypedArray
---@param opts zlib.Options|fun(err: table|nil, result?: string)
---@param cb? fun(err: table|nil, result?: string)
function zlib.inflate(data, opts, cb) end

---The raw deflate (RFC 1951) of `data`, on the calling thread.
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return string
function zlib.deflateRawSync(data, opts) end
---The raw deflate (RFC 1951) of `data` on the threadpool: `cb(err, result)`.
---@param data string|ArrayBuffer|TypedArray
---@param opts zlib.Options|fun(err: table|nil, result?: string)
---@param cb? fun(err: table|nil, result?: string)
function zlib.deflateRaw(data, opts, cb) end

---The inflate of raw deflate of `data`, on the calling thread.
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return string
function zlib.inflateRawSync(data, opts) end
---The inflate of raw deflate of `data` on the threadpool: `cb(err, result)`.
---@param data string|ArrayBuffer|TypedArray
---@param opts zlib.Options|fun(err: table|nil, result?: string)
---@param cb? fun(err: table|nil, result?: string)
function zlib.inflateRaw(data, opts, cb) end

---The gunzip or inflate, by the header of `data`, on the calling thread.
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return string
function zlib.unzipSync(data, opts) end
---The gunzip or inflate, by the header of `data` on the threadpool: `cb(err, result)`.
---@param data string|ArrayBuffer|TypedArray
---@param opts zlib.Options|fun(err: table|nil, result?: string)
---@param cb? fun(err: table|nil, result?: string)
function zlib.unzip(data, opts, cb) end

---The Brotli compression of `data`, on the calling thread.
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return string
function zlib.brotliCompressSync(data, opts) end
---The Brotli compression of `data` on the threadpool: `cb(err, result)`.
---@param data string|ArrayBuffer|TypedArray
---@param opts zlib.Options|fun(err: table|nil, result?: string)
---@param cb? fun(err: table|nil, result?: string)
function zlib.brotliCompress(data, opts, cb) end

---The Brotli decompression of `data`, on the calling thread.
---@param data string|ArrayBuffer|TypedArray
---@param opts? zlib.Options
---@return string
function zlib.brotliDecompressSync(data, opts) end
---The Brotli decompression of `data` on the threadpool: `cb(err, result)`.
---@param data string|ArrayBuffer|TypedArray
---@param opts zlib.Options|fun(err: table|nil, result?: string)
---@param cb? fun(err: table|nil, result?: string)
function zlib.brotliDecompress(data, opts, cb) end

---A gzip stream.
---@param opts? zlib.Options
---@return zlib.ZlibBase
function zlib.createGzip(opts) end

---A gunzip stream.
---@param opts? zlib.Options
---@return zlib.ZlibBase
function zlib.createGunzip(opts) end

---A deflate (zlib-wrapped) stream.
---@param opts? zlib.Options
---@return zlib.ZlibBase
function zlib.createDeflate(opts) end

---A inflate (zlib-wrapped) stream.
---@param opts? zlib.Options
---@return zlib.ZlibBase
function zlib.createInflate(opts) end

---A raw deflate stream.
---@param opts? zlib.Options
---@return zlib.ZlibBase
function zlib.createDeflateRaw(opts) end

---A raw inflate stream.
---@param opts? zlib.Options
---@return zlib.ZlibBase
function zlib.createInflateRaw(opts) end

---A gunzip-or-inflate stream.
---@param opts? zlib.Options
---@return zlib.ZlibBase
function zlib.createUnzip(opts) end

---A Brotli compression stream.
---@param opts? zlib.Options
---@return zlib.ZlibBase
function zlib.createBrotliCompress(opts) end

---A Brotli decompression stream.
---@param opts? zlib.Options
---@return zlib.ZlibBase
function zlib.createBrotliDecompress(opts) end

return zlib
