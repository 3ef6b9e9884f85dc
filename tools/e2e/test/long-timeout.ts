// Full-stack tests start real processes: their hooks and tests get a minute, not jest's default 5 s.
// (jest reads `testTimeout` only from the root config, so the e2e and bench projects set theirs here.)
jest.setTimeout(60_000);
