---@meta http
-- LuaCATS definitions for luster's `http` server.

---The connection a request came on (`req.socket`, `res.socket`).
---@class HttpSocket
---@field remoteAddress string|nil
---@field remotePort integer|nil
---@field remoteFamily string|nil 'IPv4' | 'IPv6'
---@field localAddress string|nil
---@field localPort integer|nil
local HttpSocket = {}
---Close the connection now (no more of the response is sent).
function HttpSocket:destroy() end
---Alias of destroy (Node's `socket.end`).
HttpSocket['end'] = function(self) end
---Accepted for Node compatibility (the server's timeouts apply).
---@return self
function HttpSocket:setTimeout() end
---Accepted for Node compatibility (the server sets TCP_NODELAY).
---@return self
function HttpSocket:setNoDelay() end
---Accepted for Node compatibility.
---@return self
function HttpSocket:setKeepAlive() end

---A request on the server (`req`), or a response the HTTP client received
---(`http.request`'s 'response'): a Readable of the body.  Events
---`'data'(chunk)`, `'end'`, `'aborted'`, `'close'`, `'error'(err)`.
---@class IncomingMessage: Readable
---@field method string (server) the request method
---@field url string (server) the request target as sent (relative inside a mounted router)
---@field path string (server) the url without its query
---@field query table<string, string|string[]> (server) the parsed query string
---@field headers table<string, string|string[]> lower-cased names; repeats joined with ', ' (set-cookie: a list)
---@field rawHeaders string[] name, value, name, value... as sent
---@field httpVersion string '1.1'
---@field httpVersionMajor integer
---@field httpVersionMinor integer
---@field statusCode integer (client) the response status
---@field statusMessage string (client) the response reason phrase
---@field req ClientRequest (client) the request this answers
---@field socket HttpSocket|net.Socket
---@field connection HttpSocket|net.Socket
---@field complete boolean the whole body has arrived
---@field aborted boolean the message was cut short
---@field params table<string, string> route parameters (router)
---@field body any the parsed body once a router body parser ran (router.json/urlencoded/text/raw); it then hides the body() method
---@field baseUrl string the path prefix a mounted router stripped (router)
---@field originalUrl string the url as it arrived (router)
---@field app Router the app handling the request (router)
local IncomingMessage = {}
---A promise of the whole body (a string): `local body = await(req:body())`.
---Asked again, the same promise.
---@return Promise
function IncomingMessage:body() end
---(client) A promise of the whole body, as `body()`.
---@return Promise
function IncomingMessage:text() end
---Accepted for Node compatibility (bodies are byte strings).
---@param encoding? string
---@return self
function IncomingMessage:setEncoding(encoding) end
---(client) The socket's idle timeout; (server) accepted, the server's apply.
---@param ms integer
---@param cb? fun()
---@return self
function IncomingMessage:setTimeout(ms, cb) end
---Router: a request header by any case ('referer' and 'referrer' are one).
---@param name string
---@return string|string[]|nil
function IncomingMessage:get(name) end
---Router: alias of `get`.
---@param name string
---@return string|string[]|nil
function IncomingMessage:header(name) end
---Router: the first of the types ('json', 'text/*', 'application/json',
---'+json') the Content-Type matches, false if none, nil without a body.
---@param ... string
---@return string|false|nil
function IncomingMessage:is(...) end

---A response (`res`): a Writable straight into the connection.  Events
---`'finish'`, `'drain'`, `'close'`.
---@class ServerResponse: Writable
---@field statusCode integer
---@field statusMessage string|nil
---@field headersSent boolean
---@field finished boolean
---@field req IncomingMessage
---@field socket HttpSocket
---@field sendDate boolean send an automatic Date header (default true)
---@field strictContentLength boolean the body must match a set Content-Length, else ERR_HTTP_CONTENT_LENGTH_MISMATCH (default false)
---@field locals table this request's values for later handlers (router)
local ServerResponse = {}
---Node's `res.end` (Lua's `end` is a keyword): the same as `finish`.
---@param data? string
---@return ServerResponse
ServerResponse['end'] = function(self, data) end
---Set a response header (a string, a number, or a list of them).
---@param name string
---@param value string|number|string[]
---@return ServerResponse
function ServerResponse:setHeader(name, value) end
---Add a value to a header (Node's appendHeader): a second value makes it
---a list, sent as one line per value.
---@param name string
---@param value string|number|string[]
---@return ServerResponse
function ServerResponse:appendHeader(name, value) end
---@param name string
---@return string|number|string[]|nil
function ServerResponse:getHeader(name) end
---@param name string
---@return boolean
function ServerResponse:hasHeader(name) end
---Remove a header; removing 'Date' also stops the automatic one.
---@param name string
function ServerResponse:removeHeader(name) end
---A copy of the headers set so far, by lower-cased name.
---@return table<string, any>
function ServerResponse:getHeaders() end
---@return string[]
function ServerResponse:getHeaderNames() end
---Set the status (and reason, and headers {name = value} or a flat list,
---merged over those setHeader set); they are sent with the body.  Once
---only (ERR_HTTP_HEADERS_SENT); a 1xx status other than 101 is sent at
---once and the final status still follows.
---@param status integer
---@param reason? string|table
---@param headers? table
---@return ServerResponse
function ServerResponse:writeHead(status, reason, headers) end
---Send `100 Continue` now (sent by itself for `Expect: 100-continue`
---unless the handler sends it first).
---@param cb? fun()
function ServerResponse:writeContinue(cb) end
---Send `102 Processing` now.
---@param cb? fun()
function ServerResponse:writeProcessing(cb) end
---Send `103 Early Hints` now: `hints` is a Link value (a string or a list)
---or a table `{link = ..., ['x-other'] = ...}`; nothing is sent without a
---link.
---@param hints string|string[]|table<string, string|string[]>
---@param cb? fun()
function ServerResponse:writeEarlyHints(hints, cb) end
---Send a piece of the body (chunked unless a Content-Length was set).
---Returns false when the connection is gone or 64 KiB wait in its queue:
---wait for 'drain'.
---@param chunk string
---@return boolean
function ServerResponse:write(chunk) end
---Finish the response, with an optional last piece of the body.
---@param data? string
---@return ServerResponse
function ServerResponse:finish(data) end
---Finish with `value` encoded as JSON (Content-Type application/json
---unless set).
---@param value any
---@param status? integer
---@return ServerResponse
function ServerResponse:json(value, status) end
---Accepted for Node compatibility (the head goes with the first write).
function ServerResponse:flushHeaders() end
---Close the connection without finishing.
function ServerResponse:destroy() end
---Accepted for Node compatibility (the server's timeouts apply).
---@return self
function ServerResponse:setTimeout(ms, cb) end
---Router: set the status code; chainable.
---@param code integer
---@return ServerResponse
function ServerResponse:status(code) end
---Router: finish with a string (text/html unless a type was set), a table
---or boolean (as JSON), a number (a status with its name) or nothing.
---@param body? string|table|number|boolean
---@return ServerResponse
function ServerResponse:send(body) end
---Router: finish with the status and its name as text.
---@param code integer
---@return ServerResponse
function ServerResponse:sendStatus(code) end
---Router: setHeader, chainable; `set{name = value, ...}` sets several; a
---Content-Type may be 'json', 'html', '.png'...
---@param name string|table<string, any>
---@param value? string|number|string[]
---@return ServerResponse
function ServerResponse:set(name, value) end
---Router: alias of `set`.
---@param name string|table<string, any>
---@param value? string|number|string[]
---@return ServerResponse
function ServerResponse:header(name, value) end
---Router: the response header set so far.
---@param name string
---@return string|number|string[]|nil
function ServerResponse:get(name) end
---Router: the Content-Type ('json', '.png' or a full type), chainable.
---@param mime string
---@return ServerResponse
function ServerResponse:type(mime) end
---Router: alias of `type`.
---@param mime string
---@return ServerResponse
function ServerResponse:contentType(mime) end
---Router: add to a header (Set-Cookie, Link...), chainable.
---@param name string
---@param value string|string[]
---@return ServerResponse
function ServerResponse:append(name, value) end
---Router: set Location ('back' is the Referer, or '/'), chainable.
---@param url string
---@return ServerResponse
function ServerResponse:location(url) end
---Router: `res:redirect([status,] url)`: 302 (or status) to url, with a
---short text body naming it.
---@param status integer|string
---@param url? string
---@return ServerResponse
function ServerResponse:redirect(status, url) end
---Router: send a file (absolute, or relative to opts.root) with the
---headers, validators and ranges of router.static; a missing file raises
---an error with status 404.
---@param path string
---@param opts? {root?: string, maxAge?: number|string, etag?: boolean, lastModified?: boolean, immutable?: boolean, dotfiles?: 'ignore'|'deny'|'allow', setHeaders?: fun(res: ServerResponse, path: string, stat: table)}
function ServerResponse:sendFile(path, opts) end

---@class HttpServer.Address
---@field address string
---@field family string 'IPv4' | 'IPv6'
---@field port integer

---Options of http.createServer (Node's names and defaults; 0 disables a
---limit or timeout; checked: ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE, and
---headersTimeout must not exceed requestTimeout).
---@class http.ServerOptions
---@field maxHeaderSize? integer bytes of request line + headers (16384), else 431
---@field maxBodySize? integer bytes of body (0 = no limit), else 413
---@field headersTimeout? integer ms to receive the headers (60000), else 408
---@field requestTimeout? integer ms to receive the whole request (300000), else 408
---@field keepAliveTimeout? integer ms an idle keep-alive connection stays open (5000)
---@field maxConnections? integer open connections (0 = no limit); more are dropped
---@field highWaterMark? integer bytes: req's readable and res's writable mark (65536)

---The server: events `'request'(req, res)`, `'listening'`, `'connection'`,
---`'close'`, `'error'(err)`.
---The limits are properties too: assigning one (checked as the option)
---takes effect for what comes next (`server.keepAliveTimeout = 65000`).
---@class HttpServer: EventEmitter
---@field listening boolean
---@field timeout integer
---@field maxHeaderSize integer
---@field maxBodySize integer
---@field headersTimeout integer
---@field requestTimeout integer
---@field keepAliveTimeout integer
---@field maxConnections integer
---@field highWaterMark integer
local HttpServer = {}
---`listen(port[, host][, backlog][, cb])` or `listen{port=, host=, backlog=,
---reusePort=}[, cb]`; port 0 picks a free one.  'listening' (and cb)
---follow on the next tick, or 'error'.  In a cluster worker the port is
---shared with the other workers.
---@param port? integer|{port?: integer, host?: string, backlog?: integer, reusePort?: boolean}
---@param host? string|integer|fun()
---@param backlog? integer|fun()
---@param cb? fun()
---@return HttpServer
function HttpServer:listen(port, host, backlog, cb) end
---The listening socket's address, or nil when not listening.
---@return HttpServer.Address|nil
function HttpServer:address() end
---Stop accepting; 'close' (and `cb`) once the open connections have
---finished their current response (idle ones are closed now).
---@param cb? fun(err?: table)
---@return HttpServer
function HttpServer:close(cb) end
---Close the keep-alive connections that wait for a request.
function HttpServer:closeIdleConnections() end
---The number of open connections (also given to `cb(nil, n)` next tick).
---@param cb? fun(err: table|nil, count: integer)
---@return integer
function HttpServer:getConnections(cb) end
---Keep the loop alive while listening (the default).
---@return HttpServer
function HttpServer:ref() end
---Let the process exit even though the server listens.
---@return HttpServer
function HttpServer:unref() end
---Accepted for Node compatibility (use the timeout options).
---@return HttpServer
function HttpServer:setTimeout(ms, cb) end

-- ---- the client ----

---Options of http.request (Node's names).
---@class http.RequestOptions
---@field protocol? string 'http:'
---@field host? string host name or address (a ':port' suffix is dropped)
---@field hostname? string preferred over host
---@field port? integer|string default 80
---@field path? string path and query (default '/')
---@field method? string default 'GET'
---@field headers? table<string, string|number|string[]>|Headers
---@field auth? string 'user:password' for Basic authorization
---@field agent? http.Agent|false false: a new connection, closed after the response
---@field timeout? integer ms of socket inactivity before 'timeout'
---@field signal? AbortSignal aborting destroys the request with an AbortError
---@field socketPath? string a Unix socket instead of host and port
---@field family? 0|4|6 the address family to look up
---@field localAddress? string the local address to bind
---@field setHost? boolean false: no automatic Host header
---@field maxHeaderSize? integer largest response head accepted
---@field createConnection? fun(opts: table): net.Socket used when agent is false

---An outgoing request (`http.request`): a Writable of the body.  Events
---`'response'(res)`, `'socket'(socket)`, `'information'(info)` (1xx),
---`'upgrade'(res, socket, head)`, `'connect'(res, socket, head)`,
---`'timeout'`, `'abort'`, `'finish'`, `'close'`, `'error'(err)`.
---@class ClientRequest: Writable
---@field method string
---@field path string
---@field host string
---@field port integer
---@field protocol string
---@field agent http.Agent|nil
---@field socket net.Socket|nil the connection, once assigned ('socket')
---@field connection net.Socket|nil alias of socket
---@field headersSent boolean
---@field aborted boolean|nil
---@field res IncomingMessage|nil the response, once its head arrived
local ClientRequest = {}
---Set a request header before the head is sent (ERR_HTTP_HEADERS_SENT
---after).
---@param name string
---@param value string|number|string[]
---@return ClientRequest
function ClientRequest:setHeader(name, value) end
---@param name string
---@return string|number|string[]|nil
function ClientRequest:getHeader(name) end
---@param name string
---@return boolean
function ClientRequest:hasHeader(name) end
---@param name string
function ClientRequest:removeHeader(name) end
---A copy of the headers, by lower-cased name.
---@return table<string, any>
function ClientRequest:getHeaders() end
---The lower-cased names, in the order they were set.
---@return string[]
function ClientRequest:getHeaderNames() end
---Write a piece of the body (chunked unless a Content-Length was set).
---@param chunk string
---@param cb? fun(err?: table)
---@return boolean
function ClientRequest:write(chunk, cb) end
---Send the request (Node's `end`); a body given whole here, with nothing
---written before, is sent with a Content-Length.
---@param chunk? string|fun()
---@param cb? fun()
---@return ClientRequest
function ClientRequest:finish(chunk, cb) end
---Node's `end`: the same as `finish`.
---@param chunk? string|fun()
---@param cb? fun()
---@return ClientRequest
ClientRequest['end'] = function(self, chunk, cb) end
---Send the head now (with chunked framing) if the socket is there.
function ClientRequest:flushHeaders() end
---'timeout' (and `cb`) after `ms` of socket inactivity; the request stays
---open unless the listener destroys it.
---@param ms integer
---@param cb? fun()
---@return ClientRequest
function ClientRequest:setTimeout(ms, cb) end
---@param on? boolean
function ClientRequest:setNoDelay(on) end
---@param on boolean
---@param ms? integer
function ClientRequest:setSocketKeepAlive(on, ms) end
---Abort: 'abort', then destroy (Node's deprecated `abort`).
function ClientRequest:abort() end
---Tear the request down (its socket too); the response, if any, ends with
---ECONNRESET 'aborted'.
---@param err? table
---@return ClientRequest
function ClientRequest:destroy(err) end

---Options of http.Agent.
---@class http.AgentOptions
---@field keepAlive? boolean keep sockets for later requests (default false; the global agent: true)
---@field keepAliveMsecs? integer TCP keep-alive initial delay (1000)
---@field maxSockets? integer per origin (default unlimited)
---@field maxTotalSockets? integer in all (default unlimited)
---@field maxFreeSockets? integer idle sockets kept per origin (256)
---@field timeout? integer ms an idle pooled socket is kept
---@field scheduling? 'lifo'|'fifo' which free socket is reused first (lifo)
---@field defaultPort? integer
---@field protocol? string

---A pool of client connections per origin.  Free sockets are unref'd: an
---idle pool does not keep the process alive.  The class, like every
---EventEmitter subclass in Node, also has the `events` statics.
---@class http.Agent: events
---@overload fun(opts?: http.AgentOptions): http.Agent
---@field keepAlive boolean
---@field keepAliveMsecs integer
---@field maxSockets number
---@field maxTotalSockets number
---@field maxFreeSockets integer
---@field timeout integer|nil
---@field scheduling 'lifo'|'fifo'
---@field options http.AgentOptions
---@field defaultPort integer
---@field protocol string
---@field sockets table<string, net.Socket[]> busy sockets by origin name
---@field freeSockets table<string, net.Socket[]> idle sockets by origin name
---@field requests table<string, ClientRequest[]> requests waiting for a socket
---@field totalSocketCount integer
local Agent = {}
---@param opts? http.AgentOptions
---@return http.Agent
function Agent.new(opts) end
---The pool key of an origin ('host:port:localAddress:socketPath').
---@param opts {host?: string, port?: integer, localAddress?: string, socketPath?: string}
---@return string
function Agent:getName(opts) end
---Make a connection for an origin (https overrides it with TLS).
---@param opts {host?: string, port?: integer, family?: integer, localAddress?: string, socketPath?: string}
---@return net.Socket
function Agent:createConnection(opts) end
---Hand `req` a free socket of its origin, a new connection, or queue it.
---@param req ClientRequest
---@param opts table the origin (as getName takes)
function Agent:addRequest(req, opts) end
---The request on `socket` is over: keep it for another one, or close it.
---@param socket net.Socket
---@param reusable? boolean
function Agent:release(socket, reusable) end
---Close every socket of the pool.
function Agent:destroy() end

---@class http
local http = {}

---@type string[]
http.METHODS = {}
---Reason phrases by status code.
---@type table<integer, string>
http.STATUS_CODES = {}
---@type HttpServer
http.Server = HttpServer
---@type IncomingMessage
http.IncomingMessage = IncomingMessage
---@type ServerResponse
http.ServerResponse = ServerResponse
---@type ClientRequest
http.ClientRequest = ClientRequest
---@type http.Agent
http.Agent = Agent
---The agent requests use by default (keepAlive = true).
---@type http.Agent
http.globalAgent = Agent

---Make a server; `handler(req, res)` becomes a 'request' listener.
---@param opts? http.ServerOptions|fun(req: IncomingMessage, res: ServerResponse)
---@param handler? fun(req: IncomingMessage, res: ServerResponse)
---@return HttpServer
function http.createServer(opts, handler) end

---Make a request: `http.request(url[, opts][, cb])` or
---`http.request(opts[, cb])`; `cb(res)` is a 'response' listener.  The
---request is sent once `finish()` is called.
---@param url string|http.RequestOptions
---@param opts? http.RequestOptions|fun(res: IncomingMessage)
---@param cb? fun(res: IncomingMessage)
---@return ClientRequest
function http.request(url, opts, cb) end

---As http.request, with `finish()` already called (a GET without body).
---@param url string|http.RequestOptions
---@param opts? http.RequestOptions|fun(res: IncomingMessage)
---@param cb? fun(res: IncomingMessage)
---@return ClientRequest
function http.get(url, opts, cb) end

return http
