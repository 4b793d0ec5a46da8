export {
  FakeDoveadm,
  FakeDoveadmCall,
  type FakeAnswer,
  type FakeBehaviour,
  type FakeDoveadmOptions,
  type FakeLatency,
} from './fake-doveadm-server';
