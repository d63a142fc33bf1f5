---@meta _
-- LuaCATS definitions for the fetch globals luster adds in every state:
-- fetch, Headers, Request, Response, AbortController and AbortSignal, as
-- in Node (and browsers).  They load on first use.

---Header name-value pairs, case-insensitive.  `get` joins repeated values
---with ', ' (Set-Cookie apart: `getSetCookie()`); iteration is sorted by
---lower-cased name: `for name, value in h:entries() do`, or `pairs(h)`.
---@class Headers
local HeadersInstance = {}
---Add a value (to those the name has).
---@param name string
---@param value string|number
function HeadersInstance:append(name, value) end
---Set the value, replacing those the name has.
---@param name string
---@param value string|number
function HeadersInstance:set(name, value) end
---@param name string
function HeadersInstance:delete(name) end
---The value (repeats joined with ', '), or nil.
---@param name string
---@return string|nil
function HeadersInstance:get(name) end
---@param name string
---@return boolean
function HeadersInstance:has(name) end
---Every Set-Cookie value, as a list.
---@return string[]
function HeadersInstance:getSetCookie() end
---Iterate `for name, value in h:entries() do` (lower-cased names, sorted).
---@return fun(): string?, string?
function HeadersInstance:entries() end
---Iterate the (lower-cased) names.
---@return fun(): string?
function HeadersInstance:keys() end
---Iterate the values.
---@return fun(): string?
function HeadersInstance:values() end
---`fn(value, name, headers)` for each pair, as in JavaScript.
---@param fn fun(value: string, name: string, headers: Headers)
function HeadersInstance:forEach(fn) end
---Name → value as a plain table (what http.request takes).
---@return table<string, string|string[]>
function HeadersInstance:toTable() end

---`Headers([init])`: init is a map `{name = value}`, a list of
---`{name, value}` pairs, or another Headers.  Bad names and values raise
---a TypeError.
---@class HeadersConstructor
---@overload fun(init?: table|Headers): Headers
Headers = {}
---@param init? table|Headers
---@return Headers
function Headers.new(init) end

---What Request and Response share: the body, read once.
---@class fetch.Body
---@field bodyUsed boolean the body was read (a second read rejects)
---@field body Readable|nil the body as a stream (nil when there is none)
local Body = {}
---A promise of the body as a string.
---@return Promise
function Body:text() end
---A promise of the body decoded as JSON (null is json.null); rejects with
---a SyntaxError when it does not parse.
---@return Promise
function Body:json() end
---A promise of an ArrayBuffer holding the body.
---@return Promise
function Body:arrayBuffer() end
---A promise of a Uint8Array holding the body.
---@return Promise
function Body:bytes() end

---A body: a string, a typed array or ArrayBuffer, URLSearchParams (sent
---urlencoded) or a Readable (streamed).
---@alias fetch.BodyInit string|ArrayBuffer|TypedArray|URLSearchParams|Readable

---@class fetch.RequestInit
---@field method? string default 'GET'
---@field headers? table|Headers
---@field body? fetch.BodyInit not with GET or HEAD
---@field redirect? 'follow'|'manual'|'error' default 'follow' (up to 20)
---@field signal? AbortSignal aborting rejects with the signal's reason
---@field dispatcher? http.Agent the agent to use (default: the global one)
---@field ca? string|string[] https: trusted certificates (PEM; luster's own)
---@field cert? string https: client certificate (luster's own)
---@field key? string https: client key (luster's own)
---@field rejectUnauthorized? boolean https: false accepts any certificate (luster's own)

---A request fetch can take.
---@class Request: fetch.Body
---@field url string the parsed URL's href
---@field method string
---@field headers Headers
---@field redirect 'follow'|'manual'|'error'
---@field signal AbortSignal|nil
local RequestInstance = {}
---A copy (string bodies only; ERR_NOT_SUPPORTED for a streamed one).
---@return Request
function RequestInstance:clone() end

---`Request(input[, init])`: input is a URL (string or URL) or a Request.
---@class RequestConstructor
---@overload fun(input: string|URL|Request, init?: fetch.RequestInit): Request
Request = {}
---@param input string|URL|Request
---@param init? fetch.RequestInit
---@return Request
function Request.new(input, init) end

---@class fetch.ResponseInit
---@field status? integer 200 .. 599 (default 200)
---@field statusText? string
---@field headers? table|Headers

---What fetch resolves with (or a Response made by hand).
---@class Response: fetch.Body
---@field status integer
---@field statusText string
---@field ok boolean status is 2xx
---@field headers Headers
---@field url string the final URL (after redirects)
---@field redirected boolean a redirect was followed
---@field type 'default'|'basic'|'error'
local ResponseInstance = {}
---A copy whose body can be read separately (string bodies only).
---@return Response
function ResponseInstance:clone() end

---`Response([body[, init]])`.
---@class ResponseConstructor
---@overload fun(body?: fetch.BodyInit, init?: fetch.ResponseInit): Response
Response = {}
---@param body? fetch.BodyInit
---@param init? fetch.ResponseInit
---@return Response
function Response.new(body, init) end
---A JSON response (Content-Type application/json unless given).
---@param value any
---@param init? fetch.ResponseInit
---@return Response
function Response.json(value, init) end
---A network error response (status 0, type 'error').
---@return Response
function Response.error() end
---A redirect to `url` (301, 302, 303, 307 or 308; default 302).
---@param url string|URL
---@param status? integer
---@return Response
function Response.redirect(url, status) end

---Fetch a resource: a promise of its Response, once the head has come
---(the body streams).  Redirects are followed; the body is decoded (gzip,
---deflate, br).  A network failure rejects with a TypeError 'fetch
---failed' whose `cause` has the code (ECONNREFUSED, ENOTFOUND...); an
---abort, with the signal's reason.
---@param input string|URL|Request
---@param init? fetch.RequestInit
---@return Promise
function fetch(input, init) end

---The event an AbortSignal's listeners get.
---@class AbortEvent
---@field type 'abort'
---@field target AbortSignal

---Tells a fetch, a request or anything listening that it should stop.
---@class AbortSignal
---@field aborted boolean
---@field reason any why (an AbortError or TimeoutError by default)
---@field onabort? fun(event: AbortEvent) called before the listeners
local AbortSignalInstance = {}
---Listen for 'abort' (`opts.once`: remove after one call).
---@param type 'abort'
---@param listener fun(event: AbortEvent)
---@param opts? {once?: boolean}
function AbortSignalInstance:addEventListener(type, listener, opts) end
---@param type 'abort'
---@param listener fun(event: AbortEvent)
function AbortSignalInstance:removeEventListener(type, listener) end
---Raise the reason when aborted.
function AbortSignalInstance:throwIfAborted() end

---Signals are made by AbortController and these functions (calling
---AbortSignal raises ERR_ILLEGAL_CONSTRUCTOR).
---@class AbortSignalConstructor
AbortSignal = {}
---An already aborted signal (reason: an AbortError by default).
---@param reason? any
---@return AbortSignal
function AbortSignal.abort(reason) end
---A signal that aborts with a TimeoutError after `ms` (its timer does not
---keep the process alive).
---@param ms number
---@return AbortSignal
function AbortSignal.timeout(ms) end
---A signal that aborts when any of `signals` does, with its reason.
---@param signals AbortSignal[]
---@return AbortSignal
function AbortSignal.any(signals) end

---`AbortController()`: a signal and the means to abort it.
---@class AbortController
---@field signal AbortSignal
local AbortControllerInstance = {}
---Abort the signal (once; later calls do nothing).
---@param reason? any
function AbortControllerInstance:abort(reason) end

---@class AbortControllerConstructor
---@overload fun(): AbortController
AbortController = {}
---@return AbortController
function AbortController.new() end
