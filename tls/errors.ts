import { defineErrors } from '../errors/index.js';

/** Refusals of a certificate, and what ACME could not do. */
export const tlsErrors = defineErrors({
  badCertificate: {
    code: 'TLS_BAD_CERTIFICATE',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string; reason: string }) => `${o.source} is not a usable certificate: ${o.reason}; give the PEM file of the certificate (with its chain) and the PEM file of its private key`,
  },
  keyMismatch: {
    code: 'TLS_KEY_MISMATCH',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { names: string }) => `the private key is not the key of the certificate for ${o.names}; give the key the certificate was made for`,
  },
  expired: {
    code: 'TLS_CERT_EXPIRED',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { names: string; notAfter: string }) => `the certificate for ${o.names} expired on ${o.notAfter}; renew it, or let Dormant get one: dormant certs auto:enable APP`,
  },
  coversNoHost: {
    code: 'TLS_CERT_COVERS_NO_HOST',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { app: string; names: string; hosts: string }) =>
      `the certificate is for ${o.names}, and ${o.app} is served at ${o.hosts}: none of them; add the domain first (dormant domains add ${o.app} HOST), or give the certificate for one of these`,
  },
  tooMany: {
    code: 'TLS_TOO_MANY_CERTS',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { app: string; max: number }) => `${o.app} has ${o.max} certificates already, the most an app may hold; remove one first (dormant certs remove ${o.app} NAME)`,
  },
  noSuchCertificate: {
    code: 'TLS_NO_SUCH_CERT',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { app: string; name: string; known: string }) => `${o.app} has no certificate ${o.name}; dormant certs ${o.app} lists them (${o.known})`,
  },
  acmeFailed: {
    code: 'TLS_ACME_FAILED',
    httpStatus: 502,
    exitCode: 1,
    message: (o: { host: string; reason: string }) =>
      `the ACME server did not issue a certificate for ${o.host}: ${o.reason}; check that the host's DNS points at this machine and that port 80 reaches dormant up's HTTP port`,
  },
});
