---@meta
-- LuaCATS definitions for the globals luster adds in every state (main
-- thread, worker threads, cluster workers).  `process` is in process.lua,
-- fetch and its classes in fetch.lua.

---Node's console: arguments joined by spaces, tables inspected, printf-like
---formats (%s %d %i %f %j %o) when the first argument is a string.
---@class console
console = {}
---@param ... any
function console.log(...) end
---@param ... any
function console.info(...) end
---@param ... any
function console.debug(...) end
---To stderr.
---@param ... any
function console.error(...) end
---To stderr.
---@param ... any
function console.warn(...) end
---To stderr, with a traceback.
---@param ... any
function console.trace(...) end
---@param value any
---@param opts? {depth?: integer}
function console.dir(value, opts) end
---Print the message (stderr) when `cond` is false.
---@param cond any
---@param ... any
function console.assert(cond, ...) end
---@param label? string
function console.count(label) end
---@param label? string
function console.countReset(label) end
---@param label? string
function console.time(label) end
---@param label? string
---@param ... any
function console.timeLog(label, ...) end
---@param label? string
function console.timeEnd(label) end
---Indent what follows by two spaces.
---@param ... any
function console.group(...) end
function console.groupEnd() end
---@param t table
function console.table(t) end

---A JavaScript-style promise.  `Promise.new(function(resolve, reject) end)`
---or `Promise(fn)`; `p:next(onOk, onErr)` is JavaScript's `then`.
---@class Promise
---@overload fun(executor: fun(resolve: fun(value?: any), reject: fun(reason?: any))): Promise
Promise = {}
---@param executor fun(resolve: fun(value?: any), reject: fun(reason?: any))
---@return Promise
function Promise.new(executor) end
---@param onFulfilled? fun(value: any): any
---@param onRejected? fun(reason: any): any
---@return Promise
function Promise:next(onFulfilled, onRejected) end
---Alias of `next` (`p['then']`).
---@param onFulfilled? fun(value: any): any
---@param onRejected? fun(reason: any): any
---@return Promise
Promise['then'] = function(self, onFulfilled, onRejected) end
---@param onRejected fun(reason: any): any
---@return Promise
function Promise:catch(onRejected) end
---@param onFinally fun()
---@return Promise
function Promise:finally(onFinally) end
---@param value? any
---@return Promise
function Promise.resolve(value) end
---@param reason? any
---@return Promise
function Promise.reject(reason) end
---@param list Promise[]|any[]
---@return Promise # of the list of values
function Promise.all(list) end
---@param list Promise[]|any[]
---@return Promise # of {status=, value=|reason=} records
function Promise.allSettled(list) end
---@param list Promise[]|any[]
---@return Promise
function Promise.race(list) end
---@param list Promise[]|any[]
---@return Promise # rejects with an AggregateError when all reject
function Promise.any(list) end
---@param v any
---@return boolean
function Promise.isPromise(v) end
---Same as the global `await`.
---@param p Promise|any
---@return any
function Promise.await(p) end
---Same as the global `async`.
---@param fn fun(...): any
---@return fun(...): Promise
function Promise.async(fn) end

---Suspend the running coroutine until `p` settles: its value, or raises
---the rejection.  A non-promise is returned as is.
---@param p Promise|any
---@return any
function await(p) end

---A function that runs `fn` in a new coroutine and returns a promise of
---its result.
---@param fn fun(...): any
---@return fun(...): Promise
function async(fn) end

---Run `fn` after the current callback, before any I/O.
---@param fn fun()
function queueMicrotask(fn) end

---@param fn fun(...)
---@param ms? number
---@param ... any
---@return Timeout
function setTimeout(fn, ms, ...) end
---@param fn fun(...)
---@param ms? number
---@param ... any
---@return Timeout
function setInterval(fn, ms, ...) end
---@param fn fun(...)
---@param ... any
---@return Immediate
function setImmediate(fn, ...) end
---@param t Timeout|nil
function clearTimeout(t) end
---@param t Timeout|nil
function clearInterval(t) end
---@param im Immediate|nil
function clearImmediate(im) end

---The entry script of this state (absolute), or '[eval]'.
---@type string
__filename = ''
---Its directory.
---@type string
__dirname = ''
---The WHATWG URL class, as in Node (the same table as `require('url').URL`).
---@type URLConstructor
URL = require('url').URL
---As in Node (the same table as `require('url').URLSearchParams`).
---@type URLSearchParamsConstructor
URLSearchParams = require('url').URLSearchParams
-- fetch, Headers, Request, Response, AbortController, AbortSignal: fetch.lua

---LuaJIT's FFI, also a global in luster.
---@type ffilib
ffi = require('ffi')

-- ---- shared memory ----

---@class ArrayBuffer
---@field byteLength integer
---@field detached boolean
local ArrayBufferInstance = {}
---Copy bytes [b, e) into a new buffer.
---@param b? integer
---@param e? integer
---@return ArrayBuffer
function ArrayBufferInstance:slice(b, e) end

---@class ArrayBufferConstructor
---@overload fun(n: integer): ArrayBuffer
ArrayBuffer = {}
---`n` zeroed bytes of private memory (copied when posted).
---@param n integer
---@return ArrayBuffer
function ArrayBuffer.new(n) end
---Whether `x` is a typed array view.
---@param x any
---@return boolean
function ArrayBuffer.isView(x) end

---@class SharedArrayBuffer: ArrayBuffer

---@class SharedArrayBufferConstructor
---@overload fun(n: integer): SharedArrayBuffer
SharedArrayBuffer = {}
---`n` zeroed bytes shared by every state (and process) it is posted to.
---@param n integer
---@return SharedArrayBuffer
function SharedArrayBuffer.new(n) end

---A typed array view; indices are 0-based as in JavaScript, `#view` is its
---length, out-of-range reads give nil and writes raise.
---@class TypedArray
---@field length integer
---@field byteLength integer
---@field byteOffset integer
---@field BYTES_PER_ELEMENT integer
---@field buffer ArrayBuffer|SharedArrayBuffer
---@field [integer] number
local TypedArray = {}
---A view of elements [b, e) on the same memory.
---@param b? integer
---@param e? integer
---@return self
function TypedArray:subarray(b, e) end
---A copy of elements [b, e).
---@param b? integer
---@param e? integer
---@return self
function TypedArray:slice(b, e) end
---@param x number
---@param b? integer
---@param e? integer
---@return self
function TypedArray:fill(x, b, e) end
---Copy a view or a Lua list in at `offset`.
---@param src TypedArray|number[]
---@param offset? integer
function TypedArray:set(src, offset) end
---The element at `i` (negative: from the end).
---@param i integer
---@return number|nil
function TypedArray:at(i) end
---A Lua list (1-based) of the elements.
---@return number[]
function TypedArray:toTable() end

---`T(n)`, `T(buffer[, byteOffset[, length]])`, `T(list)` or `T(view)`.
---@class TypedArrayConstructor
---@field BYTES_PER_ELEMENT integer
local TypedArrayConstructor = {}
---@param a integer|ArrayBuffer|SharedArrayBuffer|number[]|TypedArray
---@param byteOffset? integer
---@param length? integer
---@return TypedArray
function TypedArrayConstructor.new(a, byteOffset, length) end
---@param src number[]|TypedArray
---@return TypedArray
function TypedArrayConstructor.from(src) end
---@param ... number
---@return TypedArray
function TypedArrayConstructor.of(...) end

---@class Int8Array: TypedArray
---@class Uint8Array: TypedArray
---@class Int16Array: TypedArray
---@class Uint16Array: TypedArray
---@class Int32Array: TypedArray
---@class Uint32Array: TypedArray
---@class Float32Array: TypedArray
---@class Float64Array: TypedArray
---@class BigInt64Array: TypedArray
---@class BigUint64Array: TypedArray

---@class Int8ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): Int8Array
Int8Array = {}
---@class Uint8ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): Uint8Array
Uint8Array = {}
---@class Int16ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): Int16Array
Int16Array = {}
---@class Uint16ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): Uint16Array
Uint16Array = {}
---@class Int32ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): Int32Array
Int32Array = {}
---@class Uint32ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): Uint32Array
Uint32Array = {}
---@class Float32ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): Float32Array
Float32Array = {}
---@class Float64ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): Float64Array
Float64Array = {}
---@class BigInt64ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): BigInt64Array
BigInt64Array = {}
---@class BigUint64ArrayConstructor: TypedArrayConstructor
---@overload fun(a: integer|ArrayBuffer|number[]|TypedArray, byteOffset?: integer, length?: integer): BigUint64Array
BigUint64Array = {}

---Sequentially consistent operations on integer views of shared memory.
---@class Atomics
Atomics = {}
---@param view TypedArray
---@param index integer
---@return number
function Atomics.load(view, index) end
---@param view TypedArray
---@param index integer
---@param value number
---@return number value
function Atomics.store(view, index, value) end
---@param view TypedArray
---@param index integer
---@param value number
---@return number old
function Atomics.add(view, index, value) end
---@param view TypedArray
---@param index integer
---@param value number
---@return number old
function Atomics.sub(view, index, value) end
---@param view TypedArray
---@param index integer
---@param value number
---@return number old
Atomics['and'] = function(view, index, value) end
---@param view TypedArray
---@param index integer
---@param value number
---@return number old
Atomics['or'] = function(view, index, value) end
---@param view TypedArray
---@param index integer
---@param value number
---@return number old
function Atomics.xor(view, index, value) end
---@param view TypedArray
---@param index integer
---@param value number
---@return number old
function Atomics.exchange(view, index, value) end
---@param view TypedArray
---@param index integer
---@param expected number
---@param replacement number
---@return number old
function Atomics.compareExchange(view, index, expected, replacement) end
---Block this thread while view[index] == value (Int32Array/BigInt64Array).
---@param view TypedArray
---@param index integer
---@param value number
---@param timeoutMs? number default forever
---@return 'ok'|'not-equal'|'timed-out'
function Atomics.wait(view, index, value, timeoutMs) end
---Wait without blocking: `{async=true, value=promise}` or
---`{async=false, value='not-equal'|'timed-out'}`.
---@param view TypedArray
---@param index integer
---@param value number
---@param timeoutMs? number
---@return {async: boolean, value: Promise|string}
function Atomics.waitAsync(view, index, value, timeoutMs) end
---Wake up to `count` waiters (default all); returns how many woke.
---@param view TypedArray
---@param index integer
---@param count? integer
---@return integer
function Atomics.notify(view, index, count) end
---@param size integer
---@return boolean
function Atomics.isLockFree(size) end
