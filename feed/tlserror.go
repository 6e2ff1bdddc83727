package feed

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// untrustedCert returns a permanent error when err is a failed TLS
// certificate verification (unknown authority, wrong host name, expired or
// otherwise invalid certificate), and nil otherwise. Verification is never
// turned off: retrying cannot fix it, trusting the right CA can.
func untrustedCert(what string, err error) error {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) {
		return permanent("%s: the server's TLS certificate is not trusted (%v); certificate verification stays on: "+
			"give the CA that signed it (mdcap record --ca-file FILE)", what, err)
	}
	return nil
}
