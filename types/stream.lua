---@meta _
-- LuaCATS definitions for luster's one stream model (lua/luster/stream.lua,
-- lua/luster/stream_transform.lua): the classes every stream-based object
-- inherits (http's IncomingMessage and ServerResponse, the HTTP client's
-- ClientRequest, net.Socket, zlib streams, fetch bodies).  There is no
-- `require('stream')`: `---@meta _` keeps this file from being one.

---@class stream.ReadableOptions
---@field highWaterMark? integer bytes buffered before the source is stopped (default 65536)
---@field read? fun(self: Readable) the `_read` hook: the consumer wants data
---@field destroy? fun(self: Readable, err?: table) the `_destroy` hook

---@class stream.WritableOptions
---@field highWaterMark? integer bytes queued before write() says false (default 65536)
---@field write? fun(self: Writable, chunk: string, cb: fun(err?: table)) the `_write` hook
---@field final? fun(self: Writable, cb: fun(err?: table)) the `_final` hook, before 'finish'
---@field destroy? fun(self: Writable, err?: table) the `_destroy` hook

---@class stream.ReadableState
---@field length integer bytes buffered
---@field highWaterMark integer
---@field flowing boolean|nil nil: no consumer yet; true: flowing; false: paused
---@field ended boolean the source pushed its end
---@field destroyed boolean

---@class stream.WritableState
---@field length integer bytes written and not yet taken by the sink
---@field highWaterMark integer
---@field needDrain boolean a write said false and 'drain' has not come yet
---@field ended boolean finish() was called
---@field finished boolean everything is written ('finish' was emitted)
---@field destroyed boolean

---The readable side of a stream.  Events: 'data'(chunk), 'end',
---'error'(err), 'close'(hadError).  A 'data' listener switches it to
---flowing mode; in a coroutine, `await(s:read())` takes one chunk.
---@class Readable: EventEmitter
---@field destroyed boolean
---@field readableLength integer bytes buffered (a getter on most classes)
---@field readableHighWaterMark integer
---@field readableFlowing boolean|nil
---@field readableEnded boolean 'end' was emitted
local Readable = {}

---A readable from hooks: `Readable.new{read = function(self) self:push(s); self:push(nil) end}`.
---@param opts? stream.ReadableOptions
---@return Readable
function Readable.new(opts) end

---Make `class` inherit Readable (its instances use `class` as metatable).
---@generic T: table
---@param class T
---@return T
function Readable.extend(class) end

---Set up the readable side now, with options (constructors call it).
---@param opts? {highWaterMark?: integer}
---@return stream.ReadableState
function Readable:initReadable(opts) end

---(for the source) Hand over a chunk, or nil at the end.  False means:
---stop producing until `_read` is called again.
---@param chunk string|nil
---@return boolean
function Readable:push(chunk) end

---A promise of the next chunk (nil once ended cleanly); with `n`, of
---exactly `n` bytes (rejects with ERR_STREAM_PREMATURE_CLOSE if the stream
---ends first).  Rejects with the stream's error.
---@param n? integer
---@return Promise
function Readable:read(n) end

---A promise of the next line, without its '\n' or '\r\n' (rejects with
---ERR_STREAM_PREMATURE_CLOSE if the stream ends first).
---@return Promise
function Readable:readline() end

---An iterator over the chunks, for a runtime coroutine:
---`for chunk in s:chunks() do ... end`.
---@return fun(): string|nil
function Readable:chunks() end

---A promise of everything not yet consumed, as one string.
---@return Promise
function Readable:body() end

---Send everything to `dest` with backpressure both ways; dest:finish() at
---the end unless `opts['end'] == false`.  Returns dest.
---@generic W: Writable
---@param dest W
---@param opts? table `{['end'] = false}` leaves dest open
---@return W
function Readable:pipe(dest, opts) end

---Stop piping into `dest` (or into every destination).
---@param dest? Writable
---@return self
function Readable:unpipe(dest) end

---Switch to (or continue) flowing mode: deliver 'data' events.
---@return self
function Readable:resume() end

---Stop delivering 'data'; what arrives is buffered up to the high-water
---mark, then the source is stopped.
---@return self
function Readable:pause() end

---Whether pause() was called (and no resume() since).
---@return boolean
function Readable:isPaused() end

---Tear the stream down: waiting reads reject; 'error' (when `err` is given
---and someone listens) and 'close' follow on the next tick.
---@param err? table
---@return self
function Readable:destroy(err) end

---A snapshot of the readable side.
---@return stream.ReadableState
function Readable:readableState() end

---The writable side of a stream.  Events: 'drain', 'finish', 'error'(err),
---'close'(hadError), 'pipe'(src).
---@class Writable: EventEmitter
---@field destroyed boolean
---@field writableLength integer bytes queued (a getter on most classes)
---@field writableHighWaterMark integer
---@field writableEnded boolean finish() was called
---@field writableFinished boolean 'finish' was emitted
---@field writableNeedDrain boolean
local Writable = {}

---A writable from hooks: `Writable.new{write = function(self, chunk, cb) ... cb() end}`.
---@param opts? stream.WritableOptions
---@return Writable
function Writable.new(opts) end

---Make `class` inherit Writable.
---@generic T: table
---@param class T
---@return T
function Writable.extend(class) end

---Set up the writable side now, with options (constructors call it).
---@param opts? {highWaterMark?: integer}
---@return stream.WritableState
function Writable:initWritable(opts) end

---Write a chunk; false once writableLength reaches the high-water mark
---(keep the next chunk until 'drain').
---@param chunk string|number
---@param cb? fun(err?: table)
---@return boolean
function Writable:write(chunk, cb) end

---Write the last chunk (optional) and end (Node's `end`); 'finish' once
---everything is written.
---@param chunk? string|fun()
---@param cb? fun()
---@return self
function Writable:finish(chunk, cb) end

---Node's `end` (a keyword in Lua): the same as `finish`.
---@param chunk? string|fun()
---@param cb? fun()
---@return Writable
Writable['end'] = function(self, chunk, cb) end

---Queue writes in memory until uncork() (as many uncorks as corks).
function Writable:cork() end

---Release what cork() held.
function Writable:uncork() end

---Tear the stream down; 'error' (when `err` is given and someone listens)
---and 'close' follow on the next tick.
---@param err? table
---@return self
function Writable:destroy(err) end

---A snapshot of the writable side.
---@return stream.WritableState
function Writable:writableState() end

---Both sides at once (a socket): readable and writable.
---@class Duplex: Readable, Writable
local Duplex = {}

---A duplex from hooks (read, write, final, destroy, highWaterMark).
---@param opts? stream.ReadableOptions|stream.WritableOptions
---@return Duplex
function Duplex.new(opts) end

---Make `class` inherit Duplex.
---@generic T: table
---@param class T
---@return T
function Duplex.extend(class) end

---A Duplex whose input goes through `_transform(chunk, push, done)` (and
---at the end `_flush(push, done)`) to its readable side, as zlib's streams.
---@class Transform: Duplex
local Transform = {}

---`Transform.new{transform = fn(self, chunk, push, done), flush = fn(self, push, done)}`;
---without a transform it passes chunks through (Node's PassThrough).
---@param opts? {transform?: fun(self: Transform, chunk: string, push: fun(out?: string), done: fun(err?: table, out?: string)), flush?: fun(self: Transform, push: fun(out?: string), done: fun(err?: table)), highWaterMark?: integer}
---@return Transform
function Transform.new(opts) end

---Make `class` inherit Transform.
---@generic T: table
---@param class T
---@return T
function Transform.extend(class) end
