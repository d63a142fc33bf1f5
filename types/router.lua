---@meta router
-- LuaCATS definitions for luster's `router`, a small Express-style app:
--   local app = require('router')()

---@alias router.Handler fun(req: IncomingMessage, res: ServerResponse, nxt?: fun(err?: any))

---@class Router
---@field stack table[] the layers, in order
local Router = {}
---Add middleware, optionally only under a path prefix.
---@param path string|router.Handler
---@param ... router.Handler
---@return Router
function Router:use(path, ...) end
---@param path string e.g. '/users/:id'
---@param ... router.Handler
---@return Router
function Router:get(path, ...) end
---@param path string
---@param ... router.Handler
---@return Router
function Router:post(path, ...) end
---@param path string
---@param ... router.Handler
---@return Router
function Router:put(path, ...) end
---@param path string
---@param ... router.Handler
---@return Router
function Router:patch(path, ...) end
---@param path string
---@param ... router.Handler
---@return Router
function Router:delete(path, ...) end
---@param path string
---@param ... router.Handler
---@return Router
function Router:head(path, ...) end
---@param path string
---@param ... router.Handler
---@return Router
function Router:options(path, ...) end
---Every method.
---@param path string
---@param ... router.Handler
---@return Router
function Router:all(path, ...) end
---Handle one request (usable as a plain http handler).
---@param req IncomingMessage
---@param res ServerResponse
function Router:handle(req, res) end
---Serve the app: `app:listen(port[, host][, cb])`.
---@param port integer|table
---@param host? string|fun()
---@param cb? fun()
---@return HttpServer
function Router:listen(port, host, cb) end

---@class router
---@overload fun(options?: {limit?: integer}): Router
local router = {}
---@type Router
router.Router = Router
---A new app.  Options: `limit` (largest JSON body, default 1 MiB) and any
---option of http.createServer.
---@param options? {limit?: integer}
---@return Router
function router.new(options) end

return router
