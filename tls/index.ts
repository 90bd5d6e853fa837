// tls: the apps' certificates (given by users or issued by ACME), the HTTPS listener's choice of one per host, and ACME HTTP-01.
export { acmeHostsOf, acmeIneligible, type AcmeFailures } from './acme-plan.js';
export { AcmeIssuer, type AcmeIssuerOptions, Http01Answers } from './acme-issuer.js';
export { acmeCertificateId, type CertificateFacts, maxPemBytes, type CertificateSource, certificateCovers, chooseCertificate, readCertificatePair, userCertificateId } from './certificate.js';
export { CertificateBook } from './certificate-book.js';
export { type CertificateRecord, type CertificateStore, CertificateFiles, maxCertificatesPerApp, type StoredCertificate } from './certificate-files.js';
export { tlsErrors } from './errors.js';
