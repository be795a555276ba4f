use crate::api::audiences::{
    load_audiences, CreateAccount, CreateAccountLink, CreateCohort, RevokeAccountLink,
    SetCohortMembers,
};
use crate::api::error_text;
use crate::app::components::{action_error, layout::AppLayout, ErrorNote};
use leptos::prelude::*;
use leptos_meta::Title;

/// Customer accounts, cohorts and private notes links (PMs and admins).
#[component]
pub fn AudiencesPage() -> impl IntoView {
    let create_account = ServerAction::<CreateAccount>::new();
    let create_cohort = ServerAction::<CreateCohort>::new();
    let members = ServerAction::<SetCohortMembers>::new();
    let make_link = ServerAction::<CreateAccountLink>::new();
    let revoke = ServerAction::<RevokeAccountLink>::new();
    let data = Resource::new(
        move || {
            (
                create_account.version().get(),
                create_cohort.version().get(),
                members.version().get(),
                make_link.version().get(),
                revoke.version().get(),
            )
        },
        |_| load_audiences(),
    );
    let new_link = move || match make_link.value().get() {
        Some(Ok(l)) => Some(view! {
            <div class="alert alert-ok" role="status">
                <p>{format!("New {} link for {}. Copy it now: it is shown only once, and it replaces the previous one.",
                    if l.admin { "administrators'" } else { "members'" }, l.account)}</p>
                <input type="text" readonly class="mono secret" data-testid="account-link" aria-label="Private notes link" value=l.url.clone()/>
            </div>
        }),
        _ => None,
    };
    view! {
        <Title text="Customers"/>
        <AppLayout>
            <h1>"Customers"</h1>
            <p class="muted">"Entries for " <strong>"customer admins"</strong> " or a " <strong>"cohort"</strong>
                " appear only through an account's private notes link; the public site shows entries for everyone."</p>
            {new_link}
            {action_error(make_link.value())}
            {action_error(revoke.value())}
            {action_error(members.value())}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(a) => {
                            let account_slugs: Vec<String> = a.accounts.iter().map(|x| x.slug.clone()).collect();
                            view! {
                                <section aria-labelledby="accounts-h">
                                    <h2 id="accounts-h">"Accounts"</h2>
                                    {if a.accounts.is_empty() { Some(view! { <p class="empty">"No customer accounts yet."</p> }) } else { None }}
                                    <table class="table">
                                        <thead><tr><th scope="col">"Account"</th><th scope="col">"Cohorts"</th><th scope="col">"Members' link"</th><th scope="col">"Admins' link"</th></tr></thead>
                                        <tbody>
                                            {a.accounts.into_iter().map(|acc| {
                                                let link_cell = move |admin: bool, live: bool, slug: String| {
                                                    let s1 = slug.clone();
                                                    view! {
                                                        <button type="button" class="button small"
                                                            on:click=move |_| { make_link.dispatch(CreateAccountLink { account: s1.clone(), admin }); }>
                                                            {if live { "New link" } else { "Create link" }}
                                                        </button>
                                                        {live.then(|| { let s2 = slug.clone(); view! {
                                                            " "<button type="button" class="button small danger"
                                                                on:click=move |_| { revoke.dispatch(RevokeAccountLink { account: s2.clone(), admin }); }>"Revoke"</button>
                                                        }})}
                                                    }
                                                };
                                                view! {
                                                    <tr>
                                                        <td>{acc.name.clone()}" "<span class="muted mono small">{acc.slug.clone()}</span></td>
                                                        <td>{acc.cohorts.join(", ")}</td>
                                                        <td>{link_cell(false, acc.has_link, acc.slug.clone())}</td>
                                                        <td>{link_cell(true, acc.has_admin_link, acc.slug.clone())}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                                <section aria-labelledby="cohorts-h">
                                    <h2 id="cohorts-h">"Cohorts"</h2>
                                    {if a.cohorts.is_empty() { Some(view! { <p class="empty">"No cohorts yet."</p> }) } else { None }}
                                    {a.cohorts.into_iter().map(|c| {
                                        let chosen = RwSignal::new(c.members.clone());
                                        let cohort = c.slug.clone();
                                        view! {
                                            <div class="panel">
                                                <h3>{c.name.clone()}" "<span class="muted mono small">{format!("cohort:{}", c.slug)}</span></h3>
                                                <div class="checks">
                                                    {account_slugs.iter().map(|s| {
                                                        let s = s.clone();
                                                        let s2 = s.clone();
                                                        let shown = s.clone();
                                                        view! {
                                                            <label class="check"><input type="checkbox" prop:checked=move || chosen.get().contains(&s)
                                                                on:change=move |ev| {
                                                                    let on = event_target_checked(&ev);
                                                                    let s = s2.clone();
                                                                    chosen.update(|m| if on { if !m.contains(&s) { m.push(s) } } else { m.retain(|x| *x != s) });
                                                                }/>" "{shown}</label>
                                                        }
                                                    }).collect_view()}
                                                </div>
                                                <button type="button" class="button small"
                                                    on:click=move |_| { members.dispatch(SetCohortMembers { cohort: cohort.clone(), accounts: chosen.get_untracked() }); }>
                                                    "Save members"
                                                </button>
                                            </div>
                                        }
                                    }).collect_view()}
                                </section>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
            <div class="grid2">
                <section class="panel" aria-labelledby="new-account-h">
                    <h2 id="new-account-h">"New account"</h2>
                    <ActionForm action=create_account attr:class="stack">
                        <label>"Name"<input type="text" name="name" required/></label>
                        <label>"Slug"<input type="text" name="slug" placeholder="e.g. acme" required/></label>
                        <button type="submit" class="button primary">"Create account"</button>
                    </ActionForm>
                    {action_error(create_account.value())}
                </section>
                <section class="panel" aria-labelledby="new-cohort-h">
                    <h2 id="new-cohort-h">"New cohort"</h2>
                    <ActionForm action=create_cohort attr:class="stack">
                        <label>"Name"<input type="text" name="name" required/></label>
                        <label>"Slug"<input type="text" name="slug" placeholder="e.g. beta" required/></label>
                        <button type="submit" class="button primary">"Create cohort"</button>
                    </ActionForm>
                    {action_error(create_cohort.value())}
                </section>
            </div>
        </AppLayout>
    }
}
