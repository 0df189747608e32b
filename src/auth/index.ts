// re-exports of the authentication and continuous-verification module

export {
  type ApiKeyAuthenticatorOptions,
  type ApiKeyRecord,
  type ApiKeyStore,
  apiKeyAuthenticator,
  type GenerateApiKeyOptions,
  generateApiKey,
  type MemoryApiKeyStore,
  memoryApiKeyStore,
  parseApiKey,
} from './api-key.js'
export {
  type JwtAlgorithm,
  type JwtAuthenticatorOptions,
  type JwtClaimMapping,
  jwtAuthenticator,
  type KeyObjectLike,
  type StaticJwtKey,
} from './jwt.js'
export {
  assertNotRevoked,
  type MemoryRevocationList,
  memoryRevocationList,
  REVOCATION_KINDS,
  type Revocation,
  revocationCheck,
  type RevocationKind,
  type RevocationList,
  type RevocationQuery,
  revocationQueryOf,
} from './revocation.js'
export {
  isSpiffeId,
  trustDomainOf,
  type JwtSvidAuthenticatorOptions,
  jwtSvidAuthenticator,
  type ServiceIdentityAuthenticatorOptions,
  type ServiceIdentityRule,
  serviceIdentityAuthenticator,
} from './service-identity.js'
export {
  type AssuranceLevelChangeEvent,
  CAEP_EVENT_TYPE_PREFIX,
  type CaepEventType,
  type CredentialChangeEvent,
  createSignalHub,
  type DeviceComplianceChangeEvent,
  type RiskLevel,
  type RiskLevelChangeEvent,
  type SignalEvent,
  type SignalHub,
  type SignalHubOptions,
  type SignalOutcome,
  type SignalSubject,
  type SubjectSignalState,
  type TokenClaimsChangeEvent,
} from './signals.js'
export {
  checkStepUp,
  SECOND_FACTOR_METHODS,
  type StepUpMissing,
  type StepUpRequirement,
  type StepUpResult,
  stepUpError,
} from './step-up.js'
