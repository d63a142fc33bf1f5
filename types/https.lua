---@meta https
-- LuaCATS definitions for luster's `https`: the HTTP client and server over
-- TLS (the same server, limits and cluster port sharing as http).

---A keep-alive pool of TLS connections; its pool key includes the TLS
---options, and it keeps each origin's session to resume.
---@class https.Agent: http.Agent
---@field maxCachedSessions integer sessions kept per agent for resumption (default 100)
local Agent = {}

---https.Agent{keepAlive=, maxSockets=, maxCachedSessions=, ca=, rejectUnauthorized=...}
---@param opts? table
---@return https.Agent
function Agent.new(opts) end

---@class https
local https = {}

https.Agent = Agent

---The default agent (keep-alive).
---@type https.Agent
https.globalAgent = nil

---The server class (http's).
---@type HttpServer
https.Server = nil

---`https.request(url | opts[, opts][, cb])`: a ClientRequest over TLS
---(opts: the http ones plus ca, cert, key, servername, rejectUnauthorized).
---@param url string|table
---@param opts? table|function
---@param cb? fun(res: IncomingMessage)
---@return ClientRequest
function https.request(url, opts, cb) end

---request() + finish().
---@param url string|table
---@param opts? table|function
---@param cb? fun(res: IncomingMessage)
---@return ClientRequest
function https.get(url, opts, cb) end

---`https.createServer({cert=, key=, ca=, requestCert=}, handler)`.
---@param opts table
---@param handler? fun(req: IncomingMessage, res: ServerResponse)
---@return HttpServer
function https.createServer(opts, handler) end

return https
