package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/internal/store"
	views "github.com/hitchdev/hitch/views/console"
)

// tenantsPageSize is how many tenants one page lists.
const tenantsPageSize = 50

func (h *Handler) registerTenants(g *echo.Group) {
	g.GET("/tenants", h.listTenants)
}

// listTenants is GET /console/tenants: tenants in key order with their
// connections by state.
func (h *Handler) listTenants(c echo.Context) error {
	ctx := c.Request().Context()
	q := strings.TrimSpace(c.QueryParam("q"))
	cursor := c.QueryParam("cursor")
	tenants, next, err := h.Store.ListTenants(ctx, store.TenantFilter{Search: q, Limit: tenantsPageSize, Cursor: cursor})
	if err != nil {
		return listError(err)
	}
	keys := make([]string, len(tenants))
	for i, t := range tenants {
		keys[i] = t.Key
	}
	counts, err := h.Store.TenantConnectionCounts(ctx, keys)
	if err != nil {
		return err
	}
	p := views.TenantsPage{
		Page:  h.page(c, "Tenants", views.SectionTenants),
		Q:     q,
		Pager: pager("/console/tenants", url.Values{"q": {q}}, next, cursor, len(tenants)),
		Rows:  make([]views.TenantRow, len(tenants)),
	}
	for i, t := range tenants {
		st := counts[t.Key]
		p.Rows[i] = views.TenantRow{
			Key: t.Key, Name: t.Name, Active: st.Active, Disconnected: st.Disconnected, Archived: st.Archived,
			LastConnectionAt: st.LastConnectionAt, CreatedAt: t.CreatedAt,
		}
	}
	return h.render(c, http.StatusOK, views.Tenants(p))
}
