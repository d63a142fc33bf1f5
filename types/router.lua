---@meta router
-- LuaCATS definitions for luster's `router`, a small Express-style app:
--   local app = require('router')()
-- Loading it adds Express's helpers to http's IncomingMessage and
-- ServerResponse (res:status, res:send, res:redirect, req:get... in
-- types/http.lua).

---A handler: `nxt()` passes on, `nxt(err)` fails, `nxt('route')` skips the
---rest of the route, `nxt('router')` leaves the router.  A function of
---four parameters `(err, req, res, nxt)` is an error handler.
---@alias router.Handler fun(req: IncomingMessage, res: ServerResponse, nxt?: fun(err?: any))

---@class router.RouterOptions
---@field mergeParams? boolean see the parent router's params
---@field caseSensitive? boolean '/Users' and '/users' differ (default false)

---@class router.AppOptions: router.RouterOptions, http.ServerOptions
---@field limit? integer|string largest JSON body for the app's own parser (1 MiB; bytes or '100kb')
---@field json? boolean false: no default JSON parser

---Options of the body parsers.
---@class router.BodyOptions
---@field limit? integer|string largest body (default '100kb'), else 413
---@field type? string|string[]|fun(req: IncomingMessage): boolean the Content-Types taken ('text/*', '*/*+json'...)

---Options of router.static (serve-static's names).
---@class router.StaticOptions
---@field index? string|string[]|false the file a directory serves ('index.html')
---@field fallthrough? boolean a missing file passes on with nxt() (default true)
---@field redirect? boolean a directory without its '/' is redirected (default true)
---@field dotfiles? 'ignore'|'deny'|'allow' names starting with '.' (default 'ignore': 404)
---@field etag? boolean default true
---@field lastModified? boolean default true
---@field maxAge? number|string Cache-Control max-age (ms, or '1d')
---@field immutable? boolean
---@field setHeaders? fun(res: ServerResponse, path: string, stat: table)

---Options of router.compression (Express's compression names).
---@class router.CompressionOptions
---@field threshold? integer|string smallest body compressed (default 1024 bytes, or '1kb')
---@field level? integer gzip/deflate level (-1..9, default 6)
---@field memLevel? integer
---@field windowBits? integer
---@field strategy? integer
---@field chunkSize? integer the engines' output step (default 16 KiB)
---@field brotli? {params?: table<integer, integer>, chunkSize?: integer} brotli parameters (quality 4 unless given)
---@field filter? fun(req: IncomingMessage, res: ServerResponse): boolean compress this response? (default router.compression.filter)

---`router.compression(opts)`: the middleware; its helpers are fields.
---@class router.Compression
---@overload fun(opts?: router.CompressionOptions): router.Handler
local Compression = {}
---The middleware (the same as calling router.compression).
---@param opts? router.CompressionOptions
---@return router.Handler
function Compression.new(opts) end
---The default filter: the response's Content-Type is compressible.
---@param req IncomingMessage
---@param res ServerResponse
---@return boolean
function Compression.filter(req, res) end
---Whether a Content-Type compresses (text/*, JSON, JavaScript, XML, SVG...).
---@param ctype? string
---@return boolean
function Compression.compressible(ctype) end
---The coding for an Accept-Encoding value: 'br', 'gzip', 'deflate' or 'identity'.
---@param header? string|string[]
---@return string
function Compression.negotiate(header) end

---One path with handlers by method: `app:route('/book'):get(f):post(g)`.
---@class Route
---@field path string
---@field stack table[] the handlers, in order
---@field methods table<string, boolean> the methods it has handlers for (upper-case)
local Route = {}
---@param ... router.Handler|Router
---@return Route
function Route:get(...) end
---@param ... router.Handler|Router
---@return Route
function Route:post(...) end
---@param ... router.Handler|Router
---@return Route
function Route:put(...) end
---@param ... router.Handler|Router
---@return Route
function Route:patch(...) end
---@param ... router.Handler|Router
---@return Route
function Route:delete(...) end
---@param ... router.Handler|Router
---@return Route
function Route:head(...) end
---@param ... router.Handler|Router
---@return Route
function Route:options(...) end
---Every method.
---@param ... router.Handler|Router
---@return Route
function Route:all(...) end
---Run the route's handlers for req.method; `done(err)` leaves the route.
---@param req IncomingMessage
---@param res ServerResponse
---@param done fun(err?: any)
function Route:dispatch(req, res, done) end

---An app (`router()`) or a router to mount (`router.Router()`); callable
---as a handler `(req, res, nxt)`.
---@class Router
---@overload fun(options?: router.RouterOptions): Router
---@field stack table[] the layers, in order
---@field params table<string, function[]> the app:param handlers
---@field options table
---@field mergeParams boolean
---@field caseSensitive boolean
---@field locals table app.locals (an app), shared by its requests as req.app.locals
---@field limit integer|string the app's JSON body limit
local Router = {}
---Add middleware or mount routers, optionally under a path prefix (the
---prefix is stripped while they run: req.baseUrl holds it).
---@param path string|router.Handler|Router
---@param ... router.Handler|Router
---@return Router
function Router:use(path, ...) end
---A Route for `path`, to add handlers to by method.
---@param path string
---@return Route
function Router:route(path) end
---`fn(req, res, nxt, value, name)` runs before the handlers of a route
---whose path has `:name`, once per request and value.
---@param name string
---@param fn fun(req: IncomingMessage, res: ServerResponse, nxt: fun(err?: any), value: string, name: string)
---@return Router
function Router:param(name, fn) end
---@param path string e.g. '/users/:id'
---@param ... router.Handler|Router
---@return Router
function Router:get(path, ...) end
---@param path string
---@param ... router.Handler|Router
---@return Router
function Router:post(path, ...) end
---@param path string
---@param ... router.Handler|Router
---@return Router
function Router:put(path, ...) end
---@param path string
---@param ... router.Handler|Router
---@return Router
function Router:patch(path, ...) end
---@param path string
---@param ... router.Handler|Router
---@return Router
function Router:delete(path, ...) end
---@param path string
---@param ... router.Handler|Router
---@return Router
function Router:head(path, ...) end
---@param path string
---@param ... router.Handler|Router
---@return Router
function Router:options(path, ...) end
---Every method.
---@param path string
---@param ... router.Handler|Router
---@return Router
function Router:all(path, ...) end
---Handle one request (usable as a plain http handler, or as middleware:
---`out(err)` is called when nothing here answered).
---@param req IncomingMessage
---@param res ServerResponse
---@param out? fun(err?: any)
function Router:handle(req, res, out) end
---Serve the app: `app:listen(port[, host][, cb])`.
---@param port integer|table
---@param host? string|fun()
---@param cb? fun()
---@return HttpServer
function Router:listen(port, host, cb) end

---@class router
---@overload fun(options?: router.AppOptions): Router
local router = {}
---The router class; `router.Router(opts)` makes one to mount.
---@type Router
router.Router = Router
---The route class (what app:route returns).
---@type Route
router.Route = Route
---A new app.
---@param options? router.AppOptions
---@return Router
function router.new(options) end
---Parse JSON bodies into req.body (strict: only an object or array;
---empty gives {}); 400 when it does not parse, 413 over the limit.
---@param opts? router.BodyOptions|{strict?: boolean}
---@return router.Handler
function router.json(opts) end
---Parse `a=1&b=2` bodies into req.body (repeats become lists).
---@param opts? router.BodyOptions
---@return router.Handler
function router.urlencoded(opts) end
---The body as a string in req.body (text/plain).
---@param opts? router.BodyOptions
---@return router.Handler
function router.text(opts) end
---The body as a string in req.body (application/octet-stream).
---@param opts? router.BodyOptions
---@return router.Handler
function router.raw(opts) end
---Serve the files under `root` (GET and HEAD): types, ETag and
---Last-Modified with 304, byte ranges, index.html; paths never leave root.
---@param root string
---@param opts? router.StaticOptions
---@return router.Handler
function router.static(root, opts) end
---Compress responses by Accept-Encoding (br, gzip or deflate), as Express's
---`compression`: `app:use(router.compression{threshold = 1024})`.
---@type router.Compression
router.compression = Compression

return router
