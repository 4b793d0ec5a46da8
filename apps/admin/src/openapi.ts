/**
 * The admin JSON API described for tools (OpenAPI 3.1), served at GET /api/openapi.json. Kept
 * beside the routes in admin-app.ts; admin-app.test.ts checks it against the app's own routes.
 */
const userPage = {
  type: 'object',
  required: ['users', 'total', 'offset', 'limit', 'next'],
  properties: {
    users: {
      type: 'array',
      items: {
        type: 'object',
        required: ['user', 'at'],
        properties: {
          user: { type: 'string' },
          at: { type: 'integer', description: 'ms since the epoch' },
        },
      },
    },
    total: { type: 'integer' },
    offset: { type: 'integer' },
    limit: { type: 'integer' },
    next: { type: ['integer', 'null'], description: 'offset of the next page; null at the end' },
  },
} as const;

const paging = [
  { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
  {
    name: 'limit',
    in: 'query',
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
] as const;

const userParameter = {
  name: 'user',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'the username as Dovecot knows it, URL-encoded',
} as const;

const error = {
  description: 'bad request',
  content: {
    'application/json': {
      schema: { type: 'object', properties: { error: { type: 'string' } } },
    },
  },
} as const;

const json = (description: string, schema: object = { type: 'object' }): object => ({
  description,
  content: { 'application/json': { schema } },
});

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'dovewarden admin API',
    version: '1',
    description:
      'Replication status and operator actions. Basic auth with DOVEWARDEN_ADMIN_PASSWORD; ' +
      'changes are refused with DOVEWARDEN_ADMIN_READ_ONLY and from other sites.',
  },
  servers: [{ url: '/api' }],
  components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
  security: [{ basic: [] }],
  paths: {
    '/status': {
      get: {
        summary: 'Queue counts and user counts (doveadm replicator status)',
        responses: { '200': json('overall status') },
      },
    },
    '/syncs': {
      get: {
        summary: 'Running syncs (doveadm replicator dsync-status)',
        responses: { '200': json('running syncs') },
      },
    },
    '/users/failed': {
      get: {
        summary: 'Users marked failed, oldest mark first (at: when marked)',
        parameters: paging,
        responses: { '200': json('a page of users', userPage), '400': error },
      },
    },
    '/users/stale': {
      get: {
        summary:
          'Users without a successful sync within BACKGROUND_REPLICATION_THRESHOLD, longest ' +
          'first (at: the last success)',
        parameters: paging,
        responses: { '200': json('a page of users', userPage), '400': error },
      },
    },
    '/users/{user}': {
      get: {
        summary: "One user's replication status",
        parameters: [userParameter],
        responses: { '200': json('the user'), '400': error },
      },
      delete: {
        summary:
          'Forget a user: its pending (not running) sync, dsync states and marks (doveadm replicator remove)',
        parameters: [userParameter],
        responses: { '200': json('removed'), '400': error, '405': error },
      },
    },
    '/users/{user}/replicate': {
      post: {
        summary: 'Queue a sync of the user (doveadm replicator replicate)',
        parameters: [userParameter],
        requestBody: {
          required: false,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  full: { type: 'boolean', default: false },
                  priority: { enum: ['high', 'normal', 'low'], default: 'high' },
                },
              },
            },
          },
        },
        responses: { '202': json('queued'), '400': error, '405': error },
      },
    },
    '/openapi.json': {
      get: { summary: 'This description', responses: { '200': json('OpenAPI 3.1') } },
    },
  },
} as const;
