export {
  buildMessage,
  connectImap,
  newMessageId,
  type ImapEndpoint,
  type TestMessage,
} from './connect-imap';
export {
  addFlags,
  appendMessage,
  closeImap,
  createMailbox,
  deleteMailbox,
  expungeMessages,
  listSubjects,
  renameMailbox,
} from './imap-helpers';
