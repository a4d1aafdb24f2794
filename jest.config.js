/** Two tiers: `unit` (in-process, real sockets on port 0, no back ends) and `integration`
 * (real ActiveMQ, RabbitMQ, Prosody, ngIRCd and Redis started by compose/up; run in band). */
const transform = {
  '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
};
const common = {
  testEnvironment: 'node',
  transform,
  // @xmpp/*, ltx and jose ship ESM only.
  transformIgnorePatterns: ['/node_modules/(?!(@xmpp|ltx|jose)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/**/*.test.ts'], testPathIgnorePatterns: ['<rootDir>/test/integration/'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
  ],
};
