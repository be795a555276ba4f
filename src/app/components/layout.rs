use crate::api::auth::{current_user, Logout};
use crate::model::User;
use leptos::prelude::*;
use leptos_router::components::A;

/// The frame of every signed-in page: navigation, who is signed in, sign-out.
#[component]
pub fn AppLayout(children: ChildrenFn) -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let logout = ServerAction::<Logout>::new();
    let children = StoredValue::new(children);
    // One transition reads the user once, for the links and the name: a
    // resource read under two transitions could leave a server-rendered
    // response unfinished.
    view! {
        <header class="topbar">
            <a class="brand" href="/app">"Shiplog"</a>
            <Transition fallback=|| view! { <nav aria-label="Main"><A href="/app" exact=true>"Deploy log"</A></nav> }>
                {move || Suspend::new(async move {
                    let user: Option<User> = user.await.ok().flatten();
                    let role = user.as_ref().map(|u| u.role);
                    let manages = role.is_some_and(|r| r.can_manage_releases());
                    view! {
                        <nav aria-label="Main">
                            <A href="/app" exact=true>"Deploy log"</A>
                            {role.map(|_| view! { <A href="/app/incidents">"Incidents"</A> })}
                            {role.map(|_| view! { <A href="/app/actions">"Actions"</A> })}
                            {role.map(|_| view! { <A href="/app/holes">"Holes"</A> })}
                            {role.map(|_| view! { <A href="/app/blocks">"Blocks"</A> })}
                            {role.map(|_| view! { <A href="/app/environments">"Environments"</A> })}
                            {role.map(|_| view! { <A href="/app/calendar">"Calendar"</A> })}
                            {role.map(|_| view! { <A href="/app/risk">"Risk"</A> })}
                            {role.map(|_| view! { <A href="/app/metrics">"Metrics"</A> })}
                            {role.map(|_| view! { <A href="/app/retros">"Retros"</A> })}
                            {manages.then(|| view! { <A href="/app/releases">"Releases"</A> })}
                            {role.map(|_| view! { <A href="/app/unannounced">"Not announced"</A> })}
                            {manages.then(|| view! { <A href="/app/customers">"Customers"</A> })}
                            {manages.then(|| view! { <A href="/app/subscribers">"Subscribers"</A> })}
                            {role.filter(|r| r.is_admin()).map(|_| view! {
                                <A href="/app/people">"People"</A>
                                <A href="/app/tokens">"API tokens"</A>
                                <A href="/app/webhooks">"Webhooks"</A>
                                <A href="/app/audit">"Audit log"</A>
                            })}
                            <a href="/" rel="external">"Public notes"</a>
                        </nav>
                        <div class="who">
                            {user.map(|u| view! {
                                <a class="who-name" href="/app/profile" title=format!("{}: your profile and notifications", u.email)>{u.name.clone()}" · "{u.role.label()}</a>
                            })}
                            <ActionForm action=logout>
                                <button type="submit" class="button-link" data-testid="logout">"Sign out"</button>
                            </ActionForm>
                        </div>
                    }
                })}
            </Transition>
        </header>
        <main class="page">{move || children.read_value()()}</main>
    }
}

/// A narrow centred card for sign-in style pages.
#[component]
pub fn CardPage(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <main class="card-page">
            <div class="card">
                <p class="brand">"Shiplog"</p>
                <h1>{title}</h1>
                {children()}
            </div>
        </main>
    }
}
