/**
 * AF_UNIX's entry in the address-family registry (core/net/families.ts): socket(2) and
 * socketpair(2) for SOCK_STREAM, SOCK_DGRAM (and SOCK_RAW, which Linux treats as
 * SOCK_DGRAM) and SOCK_SEQPACKET. Importing this module registers the family.
 */
import { EPROTONOSUPPORT, ESOCKTNOSUPPORT } from '../../abi/errno';
import { registerSocketFamily, SocketFamilyProvider } from '../families';
import { AF_UNIX, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, SOCK_STREAM } from '../socket';
import { UnixSocket } from './socket';

export { UnixSocket } from './socket';

/** unix_create's type check; -errno or the effective type. */
function unixType(type: number, protocol: number): number {
  if (protocol !== 0 && protocol !== AF_UNIX) return -EPROTONOSUPPORT;
  switch (type) {
    case SOCK_STREAM:
    case SOCK_DGRAM:
    case SOCK_SEQPACKET:
      return type;
    case SOCK_RAW:
      return SOCK_DGRAM;
    default:
      return -ESOCKTNOSUPPORT;
  }
}

export const unixFamily: SocketFamilyProvider = {
  family: AF_UNIX,
  socket(_t, type, protocol, flags) {
    const ty = unixType(type, protocol);
    return ty < 0 ? ty : new UnixSocket(ty, flags);
  },
  socketpair(t, type, protocol, flags) {
    const ty = unixType(type, protocol);
    return ty < 0 ? ty : UnixSocket.pair(t, ty, flags);
  },
};

registerSocketFamily(unixFamily);
