// First of the entry point: the instrumentations patch HTTP and Express as those load.
import { startTracingOrExit } from '@blog/common/tracing';

startTracingOrExit('client');
