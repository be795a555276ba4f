use crate::model::*;
use leptos::prelude::*;

#[component]
pub fn StatusBadge(status: DeployStatus) -> impl IntoView {
    view! { <span class=format!("badge status-{}", status.as_str())>{status.label()}</span> }
}

#[component]
pub fn KindBadge(kind: EntryKind) -> impl IntoView {
    view! { <span class=format!("badge kind-{}", kind.as_str())>{kind.label()}</span> }
}

#[component]
pub fn EntryBadges(entry: ChangeEntry) -> impl IntoView {
    view! {
        <KindBadge kind=entry.kind/>
        {(entry.audience != Audience::Everyone)
            .then(|| view! { <span class="badge audience">{entry.audience.label()}</span> })}
        {(entry.risk != Risk::Low)
            .then(|| view! { <span class=format!("badge risk-{}", entry.risk.as_str())>{entry.risk.label()}</span> })}
        {entry.breaking.then(|| view! { <span class="badge breaking">"Breaking"</span> })}
        {entry.component.map(|c| view! { <span class="badge component">{c}</span> })}
    }
}
