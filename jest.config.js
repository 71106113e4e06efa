/** Jest: TypeScript unit tests of the frontend (tests/js), via ts-jest. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests/js'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json', diagnostics: { warnOnly: false } }]
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 20000
};
