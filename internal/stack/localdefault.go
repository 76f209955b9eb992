package stack

import "github.com/kumo-dev/kumo/internal/model"

// localDefault reads Metadata.Kumo.LocalDefault, a kumo extension with no
// AWS counterpart: true routes viewer requests whose Host is a loopback
// address or localhost to this distribution (see model.Distribution). At
// most one distribution of a stack may set it, because a loopback Host then
// names exactly one distribution.
func (b *builder) localDefault(meta obj, d *model.Distribution, st *model.Stack) {
	on, ok := meta.bool("LocalDefault", false)
	if !ok || !on {
		return
	}
	for _, x := range st.Distributions {
		if x.LocalDefault {
			meta.errf("LocalDefault", "distribution %s already sets LocalDefault: true; at most one distribution of a stack can take the requests for loopback hosts", x.LogicalID)
			return
		}
	}
	d.LocalDefault = true
}
