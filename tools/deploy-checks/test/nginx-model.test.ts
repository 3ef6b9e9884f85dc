/**
 * The NGINX configuration modelled on each controller (tools/deploy-checks/src/nginx-model.ts), read without NGINX;
 * `npm run test:nginx` serves it with a real one.
 */
import { renderKustomization } from '../src/kustomize';
import { loadManifests } from '../src/manifests';
import { gatewayNginxServer, ingressNginxServer, nginxConf, type Upstreams } from '../src/nginx-model';

const UPSTREAMS: Upstreams = { posts: 1, comments: 2, query: 3, client: 4 };
const matchOf = (block: string) => block.split('\n')[0]?.replace(/^location (.*) \{$/, '$1');

describe('the NGINX configuration of', () => {
  it('ingress-nginx: case-insensitive regex locations, longest first, with each Ingress limit and the stream settings', () => {
    const { http, locations } = ingressNginxServer(loadManifests().manifests, 'posts.com', UPSTREAMS);
    expect(locations.map(matchOf)).toEqual([
      '~* ^/posts/?(.*)/comments',
      '~* ^/posts/create',
      '~* ^/posts/stream',
      '~* ^/posts/?(.*)',
      '~* ^/?(.*)',
    ]);
    expect(http).toEqual(
      expect.arrayContaining([
        'proxy_buffering off;',
        'limit_req_zone $binary_remote_addr zone=rps_ingress_srv:5m rate=10r/s;',
        'limit_conn_zone $binary_remote_addr zone=conn_ingress_stream:5m;',
      ]),
    );
    expect(locations[1]).toMatch(
      /limit_req zone=rps_ingress_srv burst=50 nodelay;[\s\S]*proxy_pass http:\/\/127.0.0.1:1;/,
    );
    expect(locations[2]).toMatch(
      /limit_conn conn_ingress_stream 10;\s+proxy_buffering off;\s+proxy_read_timeout 3600s;\s+proxy_send_timeout 3600s;[\s\S]*proxy_pass http:\/\/127.0.0.1:3;/,
    );
  });

  it("NGINX Gateway Fabric: regex locations in its order, the policies' directives and the SnippetsFilter's snippets", () => {
    const { http, locations } = gatewayNginxServer(
      renderKustomization('infra/overlays/dev').manifests,
      'posts.com',
      UPSTREAMS,
    );
    expect(locations.map(matchOf)).toEqual([
      '~ ^/(?i)posts/?(.*)/comments',
      '~ ^/(?i)posts/create',
      '~ ^/(?i)posts/stream',
      '~ ^/(?i)posts/?(.*)',
      '~ ^/?(.*)',
    ]);
    expect(http).toEqual([
      'limit_req_zone $binary_remote_addr zone=rps_request_rate_limit_0:10m rate=10r/s;',
      'limit_conn_zone $binary_remote_addr zone=blog_streams:10m;',
    ]);
    expect(locations[1]).toMatch(
      /limit_req zone=rps_request_rate_limit_0 burst=50 nodelay;\s+limit_req_status 429;[\s\S]*proxy_pass http:\/\/127.0.0.1:1;/,
    );
    expect(locations[2]).toMatch(
      /proxy_buffering off;\s+proxy_read_timeout 1h;\s+proxy_send_timeout 1h;\s+limit_conn blog_streams 10; limit_conn_status 429;[\s\S]*proxy_pass http:\/\/127.0.0.1:3;/,
    );
    expect(locations[2]).not.toMatch(/limit_req/);
  });

  it('a whole nginx.conf: one server for posts.com on the given port, every path under the given folder', () => {
    const conf = nginxConf(
      { http: ['proxy_buffering off;'], locations: ['location / {\n    }'] },
      { port: 8080, dir: '/tmp/x', asRoot: false },
    );
    expect(conf).toMatch(/^worker_processes 1;\npid \/tmp\/x\/nginx.pid;/);
    expect(conf).toMatch(/listen 127.0.0.1:8080;\s+server_name posts.com;\s+location \/ \{/);
    expect(conf).not.toMatch(/user root/);
    expect(nginxConf({ http: [], locations: [] }, { port: 1, dir: '/d', asRoot: true })).toMatch(/^user root;/);
  });
});
