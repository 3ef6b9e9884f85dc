import type * as PromClient from 'prom-client';

/*
 * The four prom-client classes the services use and its default metrics, each loaded from its own file.
 * prom-client's index also loads summaries (with their quantile trees), the Pushgateway client and cluster
 * support, which none of the services use but every process would keep in memory. The files under
 * lib/ have no type declarations of their own, so require() loads them and a cast gives them the package's
 * types (an import would need declarations written here for prom-client's internals). prom-client is pinned
 * in package-lock.json; these paths are checked by a test.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- untyped files of prom-client, loaded one by one (above) */
export const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
export const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge;
export const Histogram = require('prom-client/lib/histogram') as typeof PromClient.Histogram;
export const collectDefaultMetrics =
  require('prom-client/lib/defaultMetrics') as typeof PromClient.collectDefaultMetrics;
/* eslint-enable @typescript-eslint/no-require-imports */
export type Registry = PromClient.Registry;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;
