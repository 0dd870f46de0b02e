package catalog

// category is a known category key, its display name and the words people
// use for it. Synonyms are matched after normalization and plural stripping,
// so "Help-Desk" and "helpdesks" both hit "help desk".
type category struct {
	key, name string
	synonyms  []string
}

// categories is the closed list of category keys an app may use.
var categories = []category{
	{"accounting", "Accounting", []string{"accounting", "accountant", "bookkeeping", "bookkeeper", "invoice", "invoicing",
		"bill", "bills", "expense", "expenses", "ledger", "general ledger", "finance", "financial", "tax", "taxes",
		"erp", "book keeping"}},
	{"analytics", "Analytics", []string{"analytics", "analytic", "metrics", "product analytics", "web analytics",
		"tracking", "event tracking", "report", "reporting", "dashboard", "dashboards", "insights", "bi",
		"business intelligence", "statistics", "stats", "telemetry"}},
	{"calendar", "Calendar", []string{"calendar", "calendars", "schedule", "scheduling", "scheduler", "appointment",
		"appointments", "booking", "bookings", "availability", "agenda", "event", "events", "meeting scheduler"}},
	{"chat", "Chat", []string{"chat", "chats", "messaging", "messenger", "message", "messages", "team chat",
		"instant messaging", "channel", "channels", "community", "team communication"}},
	{"crm", "CRM", []string{"crm", "customer relationship", "customer relationship management", "customer relations",
		"sales pipeline", "pipeline", "sales", "sales crm", "lead", "leads", "deal", "deals", "contact", "contacts",
		"prospect", "prospects", "customer database", "account management"}},
	{"dev-tools", "Developer tools", []string{"dev tools", "devtools", "developer", "developers", "developer tools",
		"code", "source code", "git", "repository", "repositories", "repo", "repos", "version control", "ci",
		"devops", "error tracking", "error monitoring", "crash reporting", "monitoring", "bug", "bugs",
		"engineering", "programming", "pull request", "pull requests", "merge request"}},
	{"ecommerce", "E-commerce", []string{"ecommerce", "e commerce", "commerce", "online store", "store", "shop",
		"storefront", "shopping cart", "cart", "order", "orders", "product catalog", "products", "retail",
		"marketplace", "online shop", "webshop"}},
	{"email", "Email", []string{"email", "emails", "e mail", "mail", "inbox", "mailbox", "email sending",
		"transactional email", "smtp", "webmail", "email api"}},
	{"forms", "Forms and surveys", []string{"form", "forms", "survey", "surveys", "questionnaire", "poll", "polls",
		"quiz", "feedback form", "form builder", "responses"}},
	{"hr", "HR", []string{"hr", "human resources", "hris", "hcm", "payroll", "people ops", "people operations",
		"employee", "employees", "recruiting", "recruitment", "hiring", "ats", "applicant tracking", "onboarding",
		"benefits", "talent", "workforce", "time off", "pto", "staff"}},
	{"knowledge", "Docs and wiki", []string{"wiki", "knowledge base", "knowledge", "notes", "note taking", "docs",
		"documentation", "intranet", "kb", "pages", "knowledge management"}},
	{"marketing", "Marketing", []string{"marketing", "email marketing", "newsletter", "newsletters", "campaign",
		"campaigns", "marketing automation", "audience", "audiences", "ads", "advertising", "social media",
		"social", "seo", "growth", "drip", "lead generation", "subscribers"}},
	{"payments", "Payments", []string{"payments", "payment", "billing", "subscription", "subscriptions", "checkout",
		"credit card", "credit cards", "card payments", "payment processing", "pos", "point of sale", "merchant",
		"charges", "payouts", "recurring billing", "payment gateway", "transactions"}},
	{"project-management", "Project management", []string{"project management", "project", "projects", "task",
		"tasks", "todo", "to do", "todos", "kanban", "board", "boards", "issue tracking", "issue tracker",
		"issues", "sprint", "sprints", "agile", "scrum", "roadmap", "work management", "pm", "task management"}},
	{"sandbox", "Sandbox", []string{"sandbox", "demo", "test", "testing"}},
	{"signature", "E-signature", []string{"e signature", "esignature", "signature", "signatures", "esign",
		"e sign", "sign", "document signing", "contract", "contracts", "agreement", "agreements"}},
	{"spreadsheets", "Spreadsheets and databases", []string{"spreadsheet", "spreadsheets", "sheet", "sheets",
		"table", "tables", "database", "databases", "no code database", "grid", "excel"}},
	{"storage", "Files and storage", []string{"storage", "file", "files", "file storage", "file sharing",
		"cloud storage", "document", "documents", "drive", "folder", "folders", "upload", "uploads", "backup",
		"attachments", "cloud drive"}},
	{"telephony", "Phone and SMS", []string{"sms", "text message", "text messages", "texting", "phone", "phones",
		"voice", "call", "calls", "calling", "telephony", "call center", "contact center", "voip", "phone system"}},
	{"ticketing", "Help desk", []string{"ticketing", "ticket", "tickets", "help desk", "helpdesk", "support",
		"customer support", "customer service", "service desk", "itsm", "support tickets", "shared inbox",
		"customer care", "incident", "incidents"}},
	{"video", "Video meetings", []string{"video", "video call", "video calls", "video conferencing", "conferencing",
		"meeting", "meetings", "webinar", "webinars", "conference call", "video chat", "online meeting"}},
}

// categoryIndex returns the position of key in categories, or -1.
func categoryIndex(key string) int {
	for i := range categories {
		if categories[i].key == key {
			return i
		}
	}
	return -1
}

// CategoryKeys lists every category an app may declare, sorted.
func CategoryKeys() []string {
	out := make([]string, len(categories))
	for i, c := range categories {
		out[i] = c.key
	}
	return out
}

// CategoryName is the display name of a category key ("project-management" ->
// "Project management"); unknown keys are returned unchanged.
func CategoryName(key string) string {
	if i := categoryIndex(key); i >= 0 {
		return categories[i].name
	}
	return key
}
