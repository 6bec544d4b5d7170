-- Passerelle's HAProxy helpers, loaded with lua-load (lua-load-per-thread when a route mirrors requests). Rendered from templates/haproxy/passerelle.lua:
-- do not edit, it is rewritten on every change.

-- Connection tokens that name no header to drop (as in the native proxy): the usual ones, and the
-- headers a client must not be able to remove (Host, the framing, what the proxy sets itself).
local PLAIN = {
  ["keep-alive"] = true, ["close"] = true, ["upgrade"] = true, ["host"] = true,
  ["content-length"] = true, ["transfer-encoding"] = true,
  ["x-forwarded-for"] = true, ["x-forwarded-proto"] = true, ["x-forwarded-host"] = true,
  ["x-forwarded-port"] = true, ["x-real-ip"] = true, ["forwarded"] = true,
}

-- The header names a Connection header lists, lower case, without the protected tokens;
-- and whether it asks for an upgrade.
local function listed(values)
  local names = {}
  local upgrade = false
  if values == nil then return names, upgrade end
  for _, value in pairs(values) do
    for token in string.gmatch(value, "[^,%s]+") do
      local t = string.lower(token)
      if t == "upgrade" then upgrade = true end
      if not PLAIN[t] then names[#names + 1] = t end
    end
  end
  return names, upgrade
end

-- Hop-by-hop headers named in the request's Connection header are not forwarded (RFC 9110 7.6.1),
-- nor are the names themselves; an upgrade request keeps "Connection: upgrade".
core.register_action("pass_hop_req", { "http-req" }, function(txn)
  local names, upgrade = listed(txn.http:req_get_headers()["connection"])
  for _, name in ipairs(names) do txn.http:req_del_header(name) end
  if upgrade then txn.http:req_set_header("connection", "upgrade") else txn.http:req_del_header("connection") end
end, 0)

-- Same for the response: headers the upstream lists in Connection.
core.register_action("pass_hop_res", { "http-res" }, function(txn)
  local names, upgrade = listed(txn.http:res_get_headers()["connection"])
  for _, name in ipairs(names) do txn.http:res_del_header(name) end
  if upgrade then txn.http:res_set_header("connection", "upgrade") else txn.http:res_del_header("connection") end
end, 0)

-- A trusted client's header sent on several lines, joined into one line (the same list, RFC 9110
-- 5.3), so that the proxy's own element can be appended to it: many backends read only one line.
core.register_action("pass_join", { "http-req" }, function(txn, name)
  local values = txn.http:req_get_headers()[name]
  if values == nil then return end
  local list = {}
  local i = 0
  while values[i] ~= nil do
    list[#list + 1] = values[i]
    i = i + 1
  end
  txn.http:req_set_header(name, table.concat(list, ", "))
end, 1)

-- A request header as route conditions read it (as the native proxy): its lines joined with ", ",
-- nothing (no match) when the request has none. `name` is lower case. The request is not changed.
core.register_fetches("pass_header", function(txn, name)
  local values = txn.http:req_get_headers()[name]
  if values == nil then return nil end
  local list = {}
  local i = 0
  while values[i] ~= nil do
    list[#list + 1] = values[i]
    i = i + 1
  end
  return table.concat(list, ", ")
end)

-- Basic auth users whose hash HAProxy's crypt(3) cannot check ($apr1$): the controller checks
-- them on its auth socket. Accepted credentials are remembered for a minute, keyed by a SHA-256
-- of the socket, the name the users are known by and the Authorization header; refusals are not
-- remembered. `var` is set to true when the credentials are accepted.
local TTL = 60
local MAX = 4096
local accepted = {}
local size = 0

local function check(txn, socket, name, var)
  local authorization = txn.sf:req_fhdr("authorization") or ""
  local key = txn.c:hex(txn.c:sha2(socket .. "\n" .. name .. "\n" .. authorization, 256))
  local now = core.now().sec
  local until_ = accepted[key]
  if until_ ~= nil and until_ > now then
    txn:set_var(var, true)
    return
  end
  local client = core.httpclient()
  local res = client:get({
    url = "http://passerelle/auth/" .. name,
    dst = socket,
    headers = { ["authorization"] = { authorization } },
    timeout = 5000,
  })
  if res ~= nil and res.status == 204 then
    if size >= MAX then
      accepted = {}
      size = 0
    end
    if accepted[key] == nil then size = size + 1 end
    accepted[key] = now + TTL
    txn:set_var(var, true)
  elseif res == nil or res.status ~= 401 then
    core.Warning("passerelle: the controller's auth socket did not answer; the request is refused")
  end
end

-- An entry point's users, by entry point name.
core.register_action("pass_auth", { "http-req" }, function(txn, socket, entrypoint)
  check(txn, socket, entrypoint, "txn.pass_auth_ext")
end, 2)

-- A route's users, by the key of its policy (a digest of the users): a variable of its own, so that
-- an entry point's accepted credentials never pass for a route's.
core.register_action("pass_route_auth", { "http-req" }, function(txn, socket, key)
  check(txn, socket, key, "txn.pass_route_auth")
end, 2)

-- A request body over a route's limit (limits.maxBodyBytes): 413, then what the client still sends
-- is read and dropped (up to 1 MiB), so that it gets the answer rather than a reset while it writes.
local TOO_LARGE = "Request Entity Too Large"
local DRAIN = 1048576

core.register_service("pass_too_large", "http", function(applet)
  applet:set_status(413)
  applet:add_header("content-type", "text/plain; charset=utf-8")
  applet:add_header("content-length", tostring(#TOO_LARGE))
  applet:start_response()
  applet:send(TOO_LARGE)
  local left = DRAIN
  while left > 0 do
    local data = applet:receive(16384)
    if data == nil or #data == 0 then break end
    left = left - #data
  end
end)

-- External authentication (a route's auth-url), as ingress-nginx's auth_request: the auth URL is asked
-- with the request's method (GET for a method HAProxy's HTTP client cannot send: only GET, HEAD, PUT,
-- POST and DELETE) and headers, without the body, plus X-Original-URL, X-Original-Method and
-- X-Auth-Request-Redirect; the forwarding headers are the ones this entry point computed. A 2xx lets
-- the request through with the listed headers of the answer (every copy the client sent is removed
-- first); 401 is answered 401 (with the auth answer's WWW-Authenticate), or 302 to the sign-in URL with
-- rd= the original URL; 403 is 403; anything else, or no answer within 15 s, 500.
local AUTH_NOT_PASSED = {
  ["host"] = true, ["content-length"] = true, ["transfer-encoding"] = true, ["expect"] = true,
  ["upgrade"] = true, ["connection"] = true, ["x-original-url"] = true, ["x-original-method"] = true,
  ["x-auth-request-redirect"] = true,
}
local AUTH_METHODS = { GET = "get", HEAD = "head", PUT = "put", POST = "post", DELETE = "delete" }
local TEXT = { ["content-type"] = { "text/plain; charset=utf-8" } }

-- The values of a header table HAProxy gives (indexed from 0 or from 1), in order.
local function values(list)
  local out = {}
  if list == nil then return out end
  local i = list[0] ~= nil and 0 or 1
  while list[i] ~= nil do
    out[#out + 1] = list[i]
    i = i + 1
  end
  return out
end

-- A URL component encoded as encodeURIComponent does.
local function encode(s)
  return (string.gsub(s, "[^%w%-_%.!~%*'%(%)]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function signin_location(signin, original)
  local base, fragment = signin, ""
  local hash = string.find(signin, "#", 1, true)
  if hash ~= nil then
    base = string.sub(signin, 1, hash - 1)
    fragment = string.sub(signin, hash)
  end
  local sep = "&"
  if string.find(base, "?", 1, true) == nil then sep = "?"
  elseif string.sub(base, -1) == "?" or string.sub(base, -1) == "&" then sep = "" end
  return base .. sep .. "rd=" .. encode(original) .. fragment
end

core.register_action("pass_ext_auth", { "http-req" }, function(txn, url, signin, granted, scheme)
  local method = txn.sf:method() or "GET"
  local uri = txn.sf:pathq() or "/"
  local original = scheme .. "://" .. (txn.sf:req_fhdr("host") or "") .. uri
  local headers = {}
  for name, list in pairs(txn.http:req_get_headers()) do
    local n = string.lower(name)
    if not AUTH_NOT_PASSED[n] then headers[n] = values(list) end
  end
  headers["x-original-url"] = { original }
  headers["x-original-method"] = { method }
  headers["x-auth-request-redirect"] = { uri }
  local names = {}
  if granted ~= "-" then
    for n in string.gmatch(granted, "[^,]+") do names[#names + 1] = n end
  end
  -- A client cannot forge what the auth service vouches for, whatever its answer.
  for _, n in ipairs(names) do txn.http:req_del_header(n) end
  local client = core.httpclient()
  local ask = client[AUTH_METHODS[method] or "get"]
  local ok, res = pcall(ask, client, { url = url, headers = headers, timeout = 15000 })
  local status = ok and res ~= nil and res.status or 0
  if status >= 200 and status < 300 then
    local answer = {}
    for name, list in pairs(res.headers or {}) do answer[string.lower(name)] = values(list) end
    for _, n in ipairs(names) do
      local v = answer[string.lower(n)]
      if v ~= nil and #v > 0 and table.concat(v, ", ") ~= "" then txn.http:req_set_header(n, table.concat(v, ", ")) end
    end
    return
  end
  if status == 401 then
    if signin ~= "-" then
      local location = signin_location(signin, original)
      txn:done({ status = 302, headers = { ["location"] = { location }, ["content-type"] = TEXT["content-type"] }, body = "Redirecting to " .. location .. "\n" })
      return
    end
    local reply = { status = 401, headers = { ["content-type"] = TEXT["content-type"] }, body = "Unauthorized\n" }
    local challenge = {}
    for name, list in pairs(res.headers or {}) do
      if string.lower(name) == "www-authenticate" then challenge = values(list) end
    end
    if #challenge > 0 then reply.headers["www-authenticate"] = { table.concat(challenge, ", ") } end
    txn:done(reply)
  elseif status == 403 then
    txn:done({ status = 403, headers = TEXT, body = "Forbidden\n" })
  else
    core.Warning("passerelle: the external authentication " .. url .. " failed (status " .. tostring(status) .. ")")
    txn:done({ status = 500, headers = TEXT, body = "Internal Server Error: the authentication service did not answer\n" })
  end
end, 4)

-- load-balance ewma (HAProxy has no EWMA): the server of the backend with the lowest score, its
-- average response time over its last requests (HAProxy's rtime) times its requests in progress, as
-- nginx's peak EWMA weighs latency by load. A server not picked for 10 s is tried again (score 0), so
-- that a slow one that got fast is seen; ties are broken at random. Servers in maintenance, down or
-- of weight 0 are never picked; with none left, the backend's balance (leastconn) decides.
local EWMA_PROBE = 10
local ewma_picked = {}

core.register_action("pass_ewma", { "http-req" }, function(txn, backend)
  local be = core.backends[backend]
  if be == nil then return end
  local now = core.now().sec
  local best, best_score, ties = nil, nil, 0
  for name, srv in pairs(be.servers) do
    local st = srv:get_stats()
    local status = tostring(st.status or "")
    local usable = not string.find(status, "MAINT", 1, true) and not string.find(status, "DOWN", 1, true) and tonumber(st.weight or 0) > 0
    if usable then
      local key = backend .. "/" .. name
      local last = ewma_picked[key]
      local score = (tonumber(st.rtime or 0) + 1) * (tonumber(st.scur or 0) + 1)
      if last ~= nil and now - last > EWMA_PROBE then score = 0 end
      if best_score == nil or score < best_score then
        best, best_score, ties = name, score, 1
      elseif score == best_score then
        ties = ties + 1
        if math.random(ties) == 1 then best = name end
      end
    end
  end
  if best ~= nil then
    ewma_picked[backend .. "/" .. best] = now
    txn:set_var("txn.pass_srv", best)
  end
end, 1)

-- Request mirroring (route policy mirror, Gateway API RequestMirror). The route's rules name the mirror
-- backends a request is copied to (pass_mirror_to, one call per target drawn by its share) and record
-- the path and query the client sent (before a rewrite). The filter pass_mirror of the routing
-- frontends takes the headers as the route's backend gets them (filters see the request after every
-- http-request rule), keeps the body as it streams through (never holding it back), and once the
-- request is read sends each copy from a task of its own, so that a mirror never delays or changes the
-- client's answer: to the internal frontend on the mirror socket, which hands it to the named backend
-- (its servers, as the runtime API keeps them). HAProxy's HTTP client sends it as a POST; the internal
-- frontend puts the client's method back. A body larger than MIRROR_BODY is not copied: neither is the
-- request then. Answers are read and discarded; a failure is dropped silently (native mode logs it at debug level).
local MIRROR_BODY = 1048576
-- The filter's arguments (every routing frontend gives the same): the mirror socket and the copy's timeout.
local mirror_socket, mirror_timeout = nil, 60000
-- Framing and hop-by-hop headers: the copy is framed by its own Content-Length.
local MIRROR_NOT_COPIED = {
  ["content-length"] = true, ["transfer-encoding"] = true, ["connection"] = true, ["keep-alive"] = true,
  ["te"] = true, ["trailer"] = true, ["upgrade"] = true, ["expect"] = true, ["proxy-connection"] = true,
}

core.register_action("pass_mirror_to", { "http-req" }, function(txn, backend)
  local targets = txn:get_var("txn.pass_mirror")
  if targets == nil then
    txn:set_var("txn.pass_mirror", backend)
    txn:set_var("txn.pass_mirror_uri", txn.sf:pathq() or "/")
  else
    txn:set_var("txn.pass_mirror", targets .. " " .. backend)
  end
end, 1)

-- `headers`: the request's header block ("name: value" lines, as req.hdrs gives it).
local function send_mirror(backend, method, uri, headers, body)
  local h = {}
  for name, value in string.gmatch(headers, "([^:\r\n]+):[ \t]*([^\r\n]*)\r\n") do
    local n = string.lower(name)
    if not MIRROR_NOT_COPIED[n] then
      if h[n] == nil then h[n] = {} end
      h[n][#h[n] + 1] = value
    end
  end
  -- The client sends a body larger than its buffer in parts only with a length to frame it.
  if #body > 0 then h["content-length"] = { tostring(#body) } end
  h["x-pass-mirror-method"] = { method }
  h["x-pass-mirror-backend"] = { backend }
  local client = core.httpclient()
  pcall(client.post, client, { url = "http://mirror" .. uri, dst = mirror_socket, headers = h, body = body, timeout = mirror_timeout })
end

local Mirror = { id = "pass_mirror", flags = filter.FLT_CFG_FL_HTX }
Mirror.__index = Mirror

function Mirror:new()
  return setmetatable({}, self)
end

function Mirror:http_headers(txn, msg)
  if msg.channel:is_resp() then return end
  local ok = pcall(function()
    local targets = txn:get_var("txn.pass_mirror")
    if targets == nil then return end
    -- HTTPMessage:get_headers() refuses a message whose body was already read (edge.hbs waits for the
    -- first 16 kB): the sample fetches read the same request.
    self.targets = targets
    self.method = txn.sf:method() or "GET"
    self.uri = txn:get_var("txn.pass_mirror_uri") or txn.sf:pathq() or "/"
    self.headers = txn.sf:req_hdrs() or ""
    self.parts = {}
    self.size = 0
    filter.register_data_filter(self, msg.channel)
  end)
  if not ok then self.targets = nil end
end

-- Every byte is forwarded at once (the return value); the copy keeps them while they fit MIRROR_BODY.
-- An error in a filter would fail the client's request: whatever goes wrong here drops the copy only.
function Mirror:http_payload(txn, msg)
  local len = msg:input()
  if self.parts ~= nil and len > 0 then
    if self.size + len > MIRROR_BODY then
      self.parts = nil
    else
      local ok, data = pcall(msg.body, msg, 0, len)
      if ok and data ~= nil and #data == len then
        self.parts[#self.parts + 1] = data
        self.size = self.size + len
      else
        self.parts = nil
      end
    end
  end
  return len
end

function Mirror:http_end(txn, msg)
  if msg.channel:is_resp() or self.targets == nil or self.parts == nil or mirror_socket == nil then return end
  local method, uri, headers = self.method, self.uri, self.headers
  local body = table.concat(self.parts)
  self.parts = nil
  -- A task of its own per copy: the request goes on at once, whatever the mirror does.
  for backend in string.gmatch(self.targets, "%S+") do
    pcall(core.register_task, function() send_mirror(backend, method, uri, headers, body) end)
  end
end

-- filter lua.pass_mirror SOCKET TIMEOUT_MS: the internal frontend's socket and how long a copy may take.
core.register_filter("pass_mirror", Mirror, function(flt, args)
  mirror_socket = args[1]
  mirror_timeout = tonumber(args[2]) or 60000
  return flt
end)
