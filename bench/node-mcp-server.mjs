// node-mcp-server.mjs — the comparison point for bench/mcp.sh: an MCP server written with
// the official TypeScript SDK (McpServer + StreamableHTTPServerTransport, JSON responses,
// sessions), exposing get-ml-backend and forwarding it to the same upstream capgate uses.
//
//   node bench/node-mcp-server.mjs PORT UPSTREAM_URL
//
// It does what capgate's tool does: GET {UPSTREAM}/api/ml/{id} with the configured
// credential, and answer structuredContent plus the same JSON as text.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

const port = Number(process.argv[2]);
const upstream = process.argv[3];
const key = process.env.LABEL_STUDIO_API_KEY || 'bench';
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function getJson(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent, headers: { authorization: `Token ${key}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

function newServer() {
  const server = new McpServer({ name: 'node-sdk-forwarder', version: '1.0.0' });
  server.registerTool('get-ml-backend', {
    description: 'Get ML Backend',
    inputSchema: { id: z.number().int() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  }, async ({ id }) => {
    const { status, body } = await getJson(`${upstream}/api/ml/${id}`);
    if (status < 200 || status >= 300) return { isError: true, content: [{ type: 'text', text: `upstream returned HTTP ${status}: ${body}` }] };
    return { content: [{ type: 'text', text: body }], structuredContent: JSON.parse(body) };
  });
  return server;
}

const transports = new Map();
const httpServer = http.createServer(async (req, res) => {
  let raw = '';
  for await (const c of req) raw += c;
  const body = raw ? JSON.parse(raw) : undefined;
  const sid = req.headers['mcp-session-id'];
  let transport = sid ? transports.get(sid) : undefined;
  if (!transport) {
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      res.writeHead(sid ? 404 : 400).end();
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => transports.set(id, transport),
    });
    await newServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
});
httpServer.keepAliveTimeout = 60000;
httpServer.listen(port, '127.0.0.1', () => console.error(`node MCP server on ${port}`));
