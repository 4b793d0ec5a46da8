export {
  asBound,
  calibrate,
  configuredPlus,
  convergenceBound,
  CONVERGENCE_MULTIPLE,
  hangGuard,
  processStartReferenceSync,
  doveadmReference,
  expectWithin,
  nodeStartReference,
  queueRoundTripReference,
  relativeBound,
  waitUntil,
  type Bound,
  type DoveadmEndpoint,
  type Reference,
} from './calibration';
export { sleep } from './sleep';
