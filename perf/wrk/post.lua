-- POST requests with a fixed body for wrk: the body is read from a file once.
-- Usage: wrk -s perf/wrk/post.lua URL -- BODY_FILE [CONTENT_TYPE]
-- (CONTENT_TYPE defaults to application/json.)

init = function(args)
    local f = assert(io.open(args[1], "rb"))
    local body = f:read("*a")
    f:close()
    local headers = {}
    for k, v in pairs(wrk.headers) do
        headers[k] = v
    end
    headers["Content-Type"] = args[2] or "application/json"
    req = wrk.format("POST", nil, headers, body)
end

request = function()
    return req
end
