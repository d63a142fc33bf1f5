---@meta http
-- LuaCATS definitions for luster's `http` server.

---The connection a request came on (`req.socket`, `res.socket`).
---@class HttpSocket
---@field remoteAddress string|nil
---@field remotePort integer|nil
---@field remoteFamily string|nil
local HttpSocket = {}
---Close the connection now.
function HttpSocket:destroy() end
---Alias of destroy (Node's `socket.end`).
HttpSocket['end'] = function(self) end
---@return self
function HttpSocket:setTimeout() end
---@return self
function HttpSocket:setNoDelay() end
---@return self
function HttpSocket:setKeepAlive() end

---A request (`req`): events `'data'(chunk)`, `'end'`, `'close'`.
---@class IncomingMessage: EventEmitter
---@field method string
---@field url string the request target as sent
---@field path string the url without its query
---@field query table<string, string|string[]> the parsed query string
---@field headers table<string, string> lower-cased names; repeated headers joined with ', '
---@field rawHeaders string[] name, value, name, value... as sent
---@field httpVersion string '1.1'
---@field httpVersionMajor integer
---@field httpVersionMinor integer
---@field socket HttpSocket
---@field connection HttpSocket
---@field complete boolean
---@field params table<string, string> route parameters (router)
---@field body any the parsed JSON body (router)
local IncomingMessage = {}
---A promise of the whole body (a string): `local body = await(req:body())`.
---@return Promise
function IncomingMessage:body() end
---Switch to flowing mode ('data' events).
---@return self
function IncomingMessage:resume() end
---Accepted for Node compatibility (bodies are byte strings).
---@return self
function IncomingMessage:setEncoding(encoding) end
---@return self
function IncomingMessage:setTimeout(ms, cb) end

---A response (`res`): events `'finish'`, `'close'`.
---@class ServerResponse: EventEmitter
---@field statusCode integer
---@field statusMessage string|nil
---@field headersSent boolean
---@field finished boolean
---@field req IncomingMessage
---@field socket HttpSocket
local ServerResponse = {}
---Node's `res.end` (Lua's `end` is a keyword): the same as `finish`.
---@param data? string
---@return ServerResponse
ServerResponse['end'] = function(self, data) end
---@param name string
---@param value string|number|string[]
---@return ServerResponse
function ServerResponse:setHeader(name, value) end
---@param name string
---@return string|number|string[]|nil
function ServerResponse:getHeader(name) end
---@param name string
---@return boolean
function ServerResponse:hasHeader(name) end
---@param name string
function ServerResponse:removeHeader(name) end
---@return table<string, any>
function ServerResponse:getHeaders() end
---@return string[]
function ServerResponse:getHeaderNames() end
---Set the status (and reason, and headers {name = value} or a flat list).
---@param status integer
---@param reason? string|table
---@param headers? table
---@return ServerResponse
function ServerResponse:writeHead(status, reason, headers) end
---Send a piece of the body (chunked unless a Content-Length was set).
---Returns false when the queue is long: wait for 'drain'.
---@param chunk string
---@return boolean
function ServerResponse:write(chunk) end
---Finish the response, with an optional last piece of the body.
---@param data? string
---@return ServerResponse
function ServerResponse:finish(data) end
---Finish with `value` encoded as JSON (Content-Type application/json).
---@param value any
---@param status? integer
---@return ServerResponse
function ServerResponse:json(value, status) end
---Send the head now.
function ServerResponse:flushHeaders() end
---Close the connection without finishing.
function ServerResponse:destroy() end
---@return self
function ServerResponse:setTimeout(ms, cb) end
---Router: set the status code; chainable.
---@param code integer
---@return ServerResponse
function ServerResponse:status(code) end
---Router: finish with a string, a table (JSON) or a status number.
---@param body? string|table|number
---@return ServerResponse
function ServerResponse:send(body) end
---Router: setHeader, chainable.
---@param name string
---@param value string|number|string[]
---@return ServerResponse
function ServerResponse:set(name, value) end
---Router: the Content-Type, chainable.
---@param mime string
---@return ServerResponse
function ServerResponse:type(mime) end

---@class HttpServer.Address
---@field address string
---@field family string 'IPv4' | 'IPv6'
---@field port integer

---The server: events `'request'(req, res)`, `'listening'`, `'connection'`,
---`'close'`, `'error'(err)`.
---@class HttpServer: EventEmitter
---@field listening boolean
---@field timeout integer
---@field headersTimeout integer
---@field requestTimeout integer
---@field keepAliveTimeout integer
local HttpServer = {}
---`listen(port[, host][, backlog][, cb])` or `listen{port=, host=, backlog=,
---reusePort=}[, cb]`; port 0 picks a free one.  In a cluster worker the
---port is shared with the other workers.
---@param port integer|{port?: integer, host?: string, backlog?: integer, reusePort?: boolean}
---@param host? string|fun()
---@param backlog? integer|fun()
---@param cb? fun()
---@return HttpServer
function HttpServer:listen(port, host, backlog, cb) end
---@return HttpServer.Address|nil
function HttpServer:address() end
---Stop accepting; `cb` when every connection has ended.
---@param cb? fun(err?: table)
---@return HttpServer
function HttpServer:close(cb) end
function HttpServer:closeIdleConnections() end
---@param cb fun(err: table|nil, count: integer)
function HttpServer:getConnections(cb) end
---@return HttpServer
function HttpServer:ref() end
---@return HttpServer
function HttpServer:unref() end
---@return HttpServer
function HttpServer:setTimeout(ms, cb) end

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

---Make a server; `handler(req, res)` becomes a 'request' listener.
---Options: limits and timeouts (`maxHeaderSize`, `maxBodySize`,
---`headersTimeout`, `requestTimeout`, `keepAliveTimeout`, ...).
---@param opts? table|fun(req: IncomingMessage, res: ServerResponse)
---@param handler? fun(req: IncomingMessage, res: ServerResponse)
---@return HttpServer
function http.createServer(opts, handler) end

return http
